"""Routing functions: each names every place it can go and raises on a state it does not know."""

from __future__ import annotations

from typing import Literal

from graph.state import State


class UnroutableState(RuntimeError):
    """The state matches no route: a bug, never a customer's doing."""


def after_input_guardrail(state: State) -> Literal["router", "csat_thanks", "__end__"]:
    """Where a checked message goes: the router, the CSAT thanks, or nowhere (nothing to answer)."""
    if state.silence or "rate_limited" in state.flags or "media_only" in state.flags:
        return "__end__"  # END. A human owns it, nothing to read, rate-limited (told once), or only media
    if "csat_rating" in state.flags:
        return "csat_thanks"  # a rating the server stored is not a question
    if not state.messages or state.messages[-1].type != "human":
        raise UnroutableState("the input guardrail let a turn through without a customer message")
    return "router"


def after_router(state: State) -> Literal["respond", "handoff", "authenticate", "retrieve"]:
    """Where a routed turn goes: small talk straight to respond, a human, identity, or retrieval."""
    if not state.needs_agent:
        return "respond"
    if state.intent == "human_request" or any(f.startswith("policy:") for f in state.flags):
        return "handoff"
    if state.intent is None:
        raise UnroutableState("router left no intent")
    if state.verification["status"] != "verified":
        return "authenticate"  # resolves a number on file; challenges only if identity is needed
    return "retrieve"


def after_authenticate(state: State) -> Literal["retrieve", "respond", "handoff"]:
    """After identity: retrieval when the turn may go on (verified, or it needs no account),
    respond to ask again, or a human on lockout."""
    status = state.verification["status"]
    if "verification_lockout" in state.flags:
        return "handoff"
    if status == "verified" or not state.needs_account:
        return "retrieve"  # verified, or a question anyone may ask
    if status in ("unverified", "challenged", "locked"):
        return "respond"
    raise UnroutableState(f"unknown verification status {status!r}")


def after_agent(state: State) -> Literal["tools", "output_guardrail", "handoff", "__end__"]:
    """After an agent step: run its tool calls, check its reply, hand off, or stop when a human
    took over."""
    if state.silence:
        return "__end__"  # END: a human took over mid-turn: stop without a reply
    if state.handoff_reason:
        return "handoff"
    last = state.messages[-1]
    if last.type != "ai":
        raise UnroutableState(f"agent ended on a {last.type} message")
    if any(call["name"] != "Reply" for call in last.tool_calls):
        return "tools"
    return "output_guardrail"


def after_output_guardrail(state: State) -> Literal["handoff", "respond"]:
    """A checked reply is sent unless the guardrail asked for a human."""
    return "handoff" if state.handoff_reason else "respond"
