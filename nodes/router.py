"""Router: the cheap model decides whether a message needs the agent at all, and its intent."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import ValidationError

from graph.context import Context
from graph.services import services_for
from graph.state import State, remember_orders
from nodes import audit_notes, prompts
from nodes.brain import classify
from nodes.common import ask_model, say, turn_text
from nodes.order_choice import offered_options, picked_option
from nodes.own_account import needs_account
from nodes.prompts_i18n import localized, reply_language
from nodes.schemas import RouteDecision

CANNED = {"greeting": prompts.GREETING_REPLY, "thanks": prompts.THANKS_REPLY}
"""Small talk answered without the agent; templates filled with the business (prompts.fill)."""


async def router(state: State, runtime: Runtime[Context]) -> dict:
    """Classify the turn's intent (and whether it needs the agent) with the router model, and
    whether its answer needs the customer's own account (nodes/own_account.py)."""
    services = await services_for(runtime.context)
    business = services.settings.business
    text = turn_text(state.messages)
    if picked := picked_option(text, offered_options(state.messages)):
        # "2" after our "which order?" question: that order's status, no model needed.
        audit_notes.note(runtime.context, audit_notes.route(
            state.turn, intent="order_status", confidence=0.9, brain="rule", kind="query",
            needs_agent=True, needs_account=True))
        return {"intent": "order_status", "confidence": 0.9, "needs_agent": True, "needs_account": True,
                "order_refs": remember_orders(state.order_refs, [picked])}
    message, update = await ask_model(
        "router", services, runtime.context, [RouteDecision],
        [SystemMessage(prompts.fill(prompts.ROUTER_PROMPT, business)), HumanMessage(text)], state.turn,
        tool_choice="RouteDecision")
    off_schema = False
    try:
        decision = RouteDecision.model_validate(message.tool_calls[0]["args"])
    except (IndexError, ValidationError):
        off_schema = True
        # A model that answers off-schema is routed by the offline rules instead.
        decision = RouteDecision.model_validate(classify(text))
        update["fallbacks"] = [*update.get("fallbacks", []), f"turn {state.turn}: router off-schema"]
    update.update(intent=decision.intent, confidence=decision.confidence,
                  needs_agent=decision.kind == "query", needs_account=needs_account(decision.intent, text))
    offline = bool(update.get("fallbacks")) or services.router_model is services.fallback_model
    audit_notes.note(
        runtime.context,
        audit_notes.fallback(state.turn, "router off-schema", "router") if off_schema else None,
        audit_notes.route(state.turn, intent=decision.intent, confidence=decision.confidence,
                          brain=audit_notes.OFFLINE if offline else "model", kind=decision.kind,
                          needs_agent=update["needs_agent"], needs_account=update["needs_account"]))
    canned = CANNED.get(decision.kind)
    if canned and services.settings.smalltalk_replies:
        language = reply_language(state.language, business.languages)
        update.update(say(prompts.fill(localized(canned, language), business)))
    return update
