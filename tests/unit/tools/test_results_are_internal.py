"""What the tools really return for the model is recognised as internal by the output
guardrail's check, so a model that passes it through is caught (nodes/internal_text.py)."""

from __future__ import annotations

from graph.base import tool_results
from nodes.internal_text import internal_findings
from tools.orders import order_status
from tools.profile import customer_profile
from tools.tickets import create_ticket, update_ticket


async def test_refusals_and_the_profile_are_internal(tool_runtime):
    results = [
        await order_status("HP-10003", runtime=tool_runtime()),  # someone else's order
        await order_status("HP-10002", runtime=tool_runtime(customer=None)),  # not verified
        await update_ticket("T-9999", "x", runtime=tool_runtime()),
        await update_ticket("see evil.example", "x", runtime=tool_runtime()),
        await customer_profile(runtime=tool_runtime()),
    ]
    for text in results:
        assert internal_findings(text), text
    assert all(tool_results.is_refusal(text) for text in results[:4])


async def test_a_customer_ready_result_is_not_internal(tool_runtime):
    assert internal_findings(await order_status("HP-10002", runtime=tool_runtime())) == []
    opened = await create_ticket("Mug broke", "It broke", runtime=tool_runtime())
    assert internal_findings(opened) == []
    assert tool_results.fields_of(tool_results.TICKET_OPENED, opened)["id"].startswith("T-")
