"""Support ticket tools.

A tool result is data for the reply, never the reply (graph/base/tool_results.py), yet a model
may lean on it: results never echo text the customer or the model wrote (subjects, notes and
ticket numbers that are not ours are left out), so nothing in them can carry a link or a lure.
"""

from __future__ import annotations

import re
from typing import Literal

from langchain_core.messages import AIMessage, HumanMessage

from graph.base.pii import redact
from graph.base.tool_results import TICKET_OPENED, TICKET_UPDATED, refusal
from tools.identity import SupportRuntime, customer_of, shop_services, verified_only

TICKET_ID = re.compile(r"[Tt]-\d{1,9}")
PRIORITY_TEXT = {"low": "low priority", "normal": "normal priority", "high": "high priority"}


def _ticket_key(runtime: SupportRuntime) -> str | None:
    """This turn's key and the call's place among the turn's ticket openings: the same when a
    crashed turn is run again, whatever ids the model gives its calls the second time."""
    turn_key = getattr(runtime.context, "turn_key", None)
    if not turn_key:
        return None
    messages = runtime.state.get("messages", []) if isinstance(runtime.state, dict) else runtime.state.messages
    calls: list[str | None] = []
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, AIMessage):
            calls[:0] = [c["id"] for c in message.tool_calls if c["name"] == "create_ticket"]
    place = calls.index(runtime.tool_call_id) if runtime.tool_call_id in calls else len(calls)
    return f"{turn_key}:ticket:{place}"


@verified_only
async def create_ticket(subject: str, details: str, runtime: SupportRuntime,
                        priority: Literal["low", "normal", "high"] = "normal") -> str:
    """Open a support ticket for the customer, e.g. for a damaged item or a missing refund.

    Args:
        subject: A short title, like "Sofa arrived scratched".
        details: What happened, in a few sentences, with order numbers if known.
        priority: high for damaged, missing or urgent issues.
    """
    customer = customer_of(runtime)
    # The model writes tickets; what it copies from the chat is stored redacted.
    ticket = await (await shop_services(runtime)).shop.create_ticket(
        customer["id"], redact(subject)[0], redact(details)[0], priority,
        idempotency_key=_ticket_key(runtime))
    kind = PRIORITY_TEXT.get(ticket["priority"], "logged")
    return TICKET_OPENED.format(id=ticket["id"], kind=kind)


@verified_only
async def update_ticket(ticket_id: str, note: str, runtime: SupportRuntime,
                        status: Literal["open", "resolved"] | None = None) -> str:
    """Add a note to one of the customer's tickets, or mark it resolved.

    Args:
        ticket_id: The ticket number, like T-5001.
        note: What to add.
        status: resolved when the customer confirms the issue is fixed.
    """
    customer = customer_of(runtime)
    ticket_id = ticket_id.strip()
    if not TICKET_ID.fullmatch(ticket_id):
        return refusal("that is not a ticket number (they look like T-5001).")
    ticket = await (await shop_services(runtime)).shop.update_ticket(
        ticket_id, customer["id"], redact(note)[0], status)
    if ticket is None:
        return refusal(f"no ticket {ticket_id.upper()} on this customer's account.")
    return TICKET_UPDATED.format(id=ticket["id"], status=ticket["status"])
