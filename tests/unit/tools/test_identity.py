"""The identity gate in front of the customer-data tools, and the schemas the model sees."""

from __future__ import annotations

import inspect

import pytest
from langchain_core.tools import StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from tools import TOOLS
from tools.identity import NOT_VERIFIED, customer_of
from tools.orders import order_status
from tools.profile import customer_profile
from tools.tickets import create_ticket, update_ticket

GATED = {
    "order_status": lambda rt: order_status("HP-10002", runtime=rt),
    "customer_profile": lambda rt: customer_profile(runtime=rt),
    "create_ticket": lambda rt: create_ticket("Mug broke", "Arrived in pieces", runtime=rt),
    "update_ticket": lambda rt: update_ticket("T-5001", "Any news?", runtime=rt),
}

PARAMETERS = {
    "order_status": ({"order_id": "string"}, ["order_id"]),
    "returns_policy": ({"question": "string"}, ["question"]),
    "create_ticket": ({"subject": "string", "details": "string", "priority": "string"},
                      ["details", "subject"]),
    "update_ticket": ({"ticket_id": "string", "note": "string", "status": None},
                      ["note", "ticket_id"]),
    "customer_profile": ({}, []),
}
"""What the model may pass each tool: never an identity, never the runtime."""

UNVERIFIED = [
    {"status": "unverified", "method": None, "attempts": 0, "locked_until": None},
    {"status": "challenged", "method": None, "attempts": 2, "locked_until": None},
    {"status": "locked", "method": None, "attempts": 5, "locked_until": "2026-11-22T13:00:00+00:00"},
]


@pytest.mark.parametrize("name", GATED)
@pytest.mark.parametrize("verification", UNVERIFIED, ids=lambda v: v["status"])
async def test_customer_tools_refuse_an_unverified_customer_without_touching_the_shop(
        name, verification, tool_runtime, shop):
    # A customer in state is not enough: only a verified status opens the tools.
    runtime = tool_runtime(verification=verification)
    assert await GATED[name](runtime) == NOT_VERIFIED
    assert shop.calls == [] and shop.ticket_rows == []


@pytest.mark.parametrize("name", GATED)
async def test_customer_tools_refuse_when_no_customer_is_known(name, tool_runtime, shop):
    assert await GATED[name](tool_runtime(customer=None)) == NOT_VERIFIED
    assert shop.calls == []


@pytest.mark.parametrize("name", GATED)
async def test_customer_tools_run_for_the_verified_customer_only(name, tool_runtime, shop):
    assert await GATED[name](tool_runtime()) != NOT_VERIFIED
    assert shop.calls
    customer_ids = {args[1] if call in ("order", "update_ticket") else args[0]
                    for call, args in shop.calls}
    assert customer_ids == {"C-1"}  # every shop call names the verified customer


def test_customer_of_fails_closed_outside_the_gate(tool_runtime):
    with pytest.raises(PermissionError):
        customer_of(tool_runtime(customer=None))
    assert customer_of(tool_runtime())["id"] == "C-1"


def test_the_model_sees_each_tool_as_written_without_runtime_or_identity():
    for tool in TOOLS:
        function = convert_to_openai_tool(tool)["function"]
        properties, required = PARAMETERS[function["name"]]
        params = function["parameters"]
        assert {k: v.get("type") for k, v in params.get("properties", {}).items()} == properties
        assert sorted(params.get("required", [])) == required
        # The gate adds nothing the model can see: same schema as the bare function.
        bare = inspect.unwrap(tool.coroutine)
        assert convert_to_openai_tool(StructuredTool.from_function(coroutine=bare)) == \
            convert_to_openai_tool(tool)
        assert function["description"].startswith(bare.__doc__.strip().splitlines()[0])


async def test_tools_are_handed_the_runtime_by_the_tool_node(tool_runtime):
    tools = {t.name: t for t in TOOLS}
    message = await tools["order_status"].ainvoke({
        "type": "tool_call", "id": "call_9", "name": "order_status",
        "args": {"order_id": "HP-10002", "runtime": tool_runtime(tool_call_id="call_9")}})
    assert message.tool_call_id == "call_9" and "HP-10002" in message.text
