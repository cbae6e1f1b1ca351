"""Handoff: prepare what a human needs, tell the customer, and mark the conversation human."""

from __future__ import annotations

import hashlib

from langchain_core.messages import AIMessage, ToolMessage
from langgraph.runtime import Runtime

from graph.base.pii import redact
from graph.context import Context
from graph.services import services_for
from graph.state import Handoff, State, move
from nodes import prompts
from nodes.common import say, turn_text
from nodes.prompts_i18n import localized, reply_language

ETA = {"urgent": "within 15 minutes", "high": "within 30 minutes", "normal": "within 2 hours"}
"""Without a desk (terminal chat), the wait promised by priority."""


def _reason(state: State) -> str:
    if state.handoff_reason:
        return state.handoff_reason
    policy = [flag.split(":", 1)[1] for flag in state.flags if flag.startswith("policy:")]
    if policy:
        return policy[0]
    if "verification_lockout" in state.flags:
        return "verification_lockout"
    return "customer_request" if state.intent == "human_request" else "agent_unsure"


def _priority(state: State, reason: str) -> str:
    tier = state.customer.get("tier") if state.customer else None
    if tier == "vip" or state.intent == "complaint" or "abuse" in state.flags:
        return "high"
    return "high" if reason in ("verification_lockout", "guardrail_failure") else "normal"


def _close_open_calls(state: State) -> list[ToolMessage]:
    """Tool calls left unanswered by the handoff get a result, so the transcript stays valid."""
    last = state.messages[-1] if state.messages else None
    if not isinstance(last, AIMessage):
        return []
    return [ToolMessage("Not run: the conversation was handed to a human.", tool_call_id=c["id"])
            for c in last.tool_calls]


def summary(state: State) -> str:
    """One redacted line for the human queue: who, the intent and the customer's latest words."""
    customer = (state.customer.get("name", "An unverified customer") if state.customer
                else "An unverified customer")
    # The transcript is redacted already; redacting again covers text put there another way.
    return redact(f"{customer} ({state.intent or 'other'}): {turn_text(state.messages)[:300]}")[0]


async def handoff(state: State, runtime: Runtime[Context]) -> dict:
    """Hand the conversation to a human: the queue payload, the customer told the wait, status
    human."""
    context = runtime.context or Context()
    clock = context.clock()
    now = clock.isoformat()
    reason = _reason(state)
    reference = "H-" + hashlib.sha1(
        f"{context.conversation_id}:{state.turn}".encode()).hexdigest()[:6].upper()
    payload: Handoff = {
        "reference": reference, "reason": reason, "priority": _priority(state, reason),
        "summary": summary(state), "intent": state.intent, "confidence": state.confidence,
        "customer": state.customer, "verification": state.verification["status"],
        "citations": [p["url"] for p in state.citations or state.passages],
        "order_refs": state.order_refs, "requested_at": now, "mode": "warm",
        "eta": ETA[_priority(state, reason)],
    }
    services = await services_for(context)
    desk = services.planner
    if desk is not None:  # the desk knows the SLA matrix, business hours and who is online
        tier = (state.customer.get("tier") if state.customer else None) or "retail"
        payload.update(await desk.plan(tier=tier, topic=state.intent or "other", reason=reason, now=clock))
        if context.conversation_id:  # the console page, by the conversation's opaque ref
            payload["transcript_url"] = desk.permalink(context.conversation_id)
    template = prompts.HANDOFF_ACK if payload["mode"] == "warm" else prompts.HANDOFF_COLD
    language = reply_language(state.language, services.settings.business.languages)
    said = say(localized(template, language).format(ticket=reference, eta=payload["eta"]))
    return {"handoff": payload, "handoff_reason": reason, "outbound": said["outbound"], "clarifications": 0,
            "messages": [*_close_open_calls(state), *said["messages"]],
            **move(state.status, "handoff", now)}
