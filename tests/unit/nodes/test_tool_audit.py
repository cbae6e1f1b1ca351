"""Every tool call goes on the audit trail with its arguments minus free text, and its outcome."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from langchain_core.messages import ToolMessage

from graph.base.audit import AuditKind
from graph.context import Context
from nodes.tool_audit import audit_arguments, audited_tool_call


def test_identifiers_numbers_and_flags_stay_free_text_becomes_its_length():
    assert audit_arguments({"order_id": "HP-10007", "priority": "high", "urgent": True, "count": 2,
                            "details": "the sofa arrived broken, call me on 07700 900123"}) == {
        "order_id": "HP-10007", "priority": "high", "urgent": True, "count": 2,
        "details": "<48 chars>"}
    assert audit_arguments({"refs": ["HP-1", "a long sentence here"]}) == {
        "refs": ["HP-1", "<20 chars>"]}


def _request(context: Context, name: str = "order_status", **args):
    return SimpleNamespace(tool_call={"name": name, "args": args, "id": "call_1"},
                           runtime=SimpleNamespace(context=context), state={"turn": 3})


async def test_a_tool_call_is_noted_with_its_outcome():
    context = Context()

    async def execute(request):
        return ToolMessage("{}", tool_call_id="call_1", status="error")

    result = await audited_tool_call(_request(context, order_id="HP-10007"), execute)
    assert result.status == "error"
    [event] = context.decisions
    assert (event.kind, event.reason, event.turn) == (AuditKind.TOOL_CALL, "error", 3)
    assert event.payload == {"tool": "order_status", "arguments": {"order_id": "HP-10007"}}


async def test_a_tool_that_raises_is_noted_and_the_error_goes_on():
    context = Context()

    async def execute(request):
        raise LookupError("shop down")

    with pytest.raises(LookupError):
        await audited_tool_call(_request(context, "create_ticket", subject="Broken sofa legs"), execute)
    [event] = context.decisions
    assert event.reason == "LookupError"
    assert event.payload["arguments"] == {"subject": "<16 chars>"}
