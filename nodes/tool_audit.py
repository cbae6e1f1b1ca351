"""Every tool call in the audit trail: the tool, its arguments with free text left out, and
its outcome. `audited_tool_call` wraps the graph's ToolNode (LangGraph's `awrap_tool_call`),
so no tool has to remember to record itself."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain_core.messages import ToolMessage
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command

from graph.base.audit import AuditEvent, AuditKind
from nodes.audit_notes import BOT, note

_IDENTIFIER = re.compile(r"^[\w.:#/-]{1,40}$")
"""An argument kept as it is: an order reference, a status, a priority. Anything longer or
with spaces is text a customer may have written, and is kept as its length only."""


def audit_arguments(value: Any) -> Any:
    """A tool call's arguments as the trail keeps them: identifiers, numbers and flags as they
    are, free text as "<N chars>" (record() redacts what is left, whoever calls)."""
    if isinstance(value, Mapping):
        return {str(k): audit_arguments(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [audit_arguments(v) for v in value]
    if isinstance(value, str) and not _IDENTIFIER.match(value):
        return f"<{len(value)} chars>"
    return value


def tool_call_event(name: str, arguments: Mapping[str, Any], outcome: str,
                    turn: int | None) -> AuditEvent:
    """One tool call: which tool, with what, and how it went ("success", "error", or the
    error's class when it raised)."""
    return AuditEvent(kind=AuditKind.TOOL_CALL, actor=BOT, turn=turn, reason=outcome,
                      payload={"tool": name, "arguments": audit_arguments(dict(arguments))})


def _outcome(result: ToolMessage | Command) -> str:
    return result.status if isinstance(result, ToolMessage) else "command"


async def audited_tool_call(
        request: ToolCallRequest,
        execute: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command]]) -> ToolMessage | Command:
    """Run the tool call and note it on the run context (ToolNode's `awrap_tool_call`)."""
    call = request.tool_call
    context = getattr(request.runtime, "context", None)
    state = request.state
    turn = state.get("turn") if isinstance(state, Mapping) else getattr(state, "turn", None)
    try:
        result = await execute(request)
    except Exception as error:
        note(context, tool_call_event(call["name"], call.get("args") or {}, type(error).__name__, turn))
        raise
    note(context, tool_call_event(call["name"], call.get("args") or {}, _outcome(result), turn))
    return result
