"""The graph's decisions as audit events (graph/base/audit.py), noted on the run context.

Nodes note what they decided on `Context.decisions`; the server writes the list in the
transaction that commits the turn (server/inbound/turn.py), stamped with the conversation's
ref. Nothing here is checkpointed and nothing here holds customer text: names, numbers,
reasons and counts only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graph.base.audit import AuditEvent, AuditKind
from nodes import prompts

if TYPE_CHECKING:
    from graph.breaker import CircuitBreaker
    from graph.context import Context
    from graph.services import Role, Services
    from graph.state import Usage

OFFLINE = "offline"
"""The model name the offline brain's answers are recorded under (cost 0)."""
BOT = "bot"

_PROMPTS = {"router": prompts.ROUTER_PROMPT, "agent": prompts.AGENT_PROMPT}


def prompt_version(role: str) -> str:
    """The version of a role's prompt: the first 12 hex digits of its template's SHA-256, so
    a changed prompt shows in the trail without anyone bumping a number."""
    return hashlib.sha256(_PROMPTS[role].encode()).hexdigest()[:12]


def note(context: Context | None, *events: AuditEvent | None) -> None:
    """Keep events on the run context; a node called without one (a unit test) notes nothing."""
    if context is not None:
        context.note(*(e for e in events if e is not None))


def model_name(services: Services, role: Role) -> str:
    """What the role's model is recorded as: its configured name (else the chat model's own),
    or the offline brain's."""
    model = services.model(role)
    if model is services.fallback_model:
        return OFFLINE
    return (getattr(services.settings, role).model or getattr(model, "model_name", None)
            or model._llm_type)


def model_call(*, role: str, model: str, turn: int, usage: Usage | Mapping[str, Any] | None,
               outcome: str = "ok") -> AuditEvent:
    """One model call: the model, its tokens and cost (the offline brain's cost nothing)."""
    used = usage or {}
    offline = model == OFFLINE
    return AuditEvent(kind=AuditKind.MODEL_CALL, actor=BOT, turn=turn, reason=outcome,
                      model=model, tokens_in=int(used.get("tokens_in", 0)),
                      tokens_out=int(used.get("tokens_out", 0)),
                      cost_usd=0.0 if offline else float(used.get("cost_usd", 0.0)),
                      prompt_version=prompt_version(role), payload={"role": role})


def fallback(turn: int, reason: str, role: str) -> AuditEvent:
    """The offline brain stood in for the model, and why ("timeout", "breaker_open"...)."""
    return AuditEvent(kind=AuditKind.FALLBACK, actor=BOT, turn=turn, reason=reason,
                      payload={"role": role})


def fallback_reason(recorded: str) -> str:
    """The reason of a state fallback entry ("turn 3: deadline" -> "deadline")."""
    return recorded.split(": ", 1)[-1]


def breaker_change(turn: int, breaker: CircuitBreaker | None, before: str | None) -> AuditEvent | None:
    """A breaker that changed state during a call, else None."""
    if breaker is None or before is None or breaker.state == before:
        return None
    return AuditEvent(kind=AuditKind.BREAKER, actor="system", turn=turn, reason=breaker.state,
                      payload={"breaker": breaker.name, "from": before})


def model_calls(services: Services, role: Role, turn: int, update: Mapping[str, Any]) -> list[AuditEvent]:
    """The events of one `ask_model` that answered: the model's call, or, when the offline
    brain stood in, the failed call (none when the breaker refused it), the fallback and the
    brain's call."""
    model = model_name(services, role)
    fallbacks = update.get("fallbacks") or []
    if not fallbacks:
        return [model_call(role=role, model=model, turn=turn, usage=update.get("usage"))]
    reason = fallback_reason(fallbacks[-1])
    failed = [] if reason == "breaker_open" else [
        model_call(role=role, model=model, turn=turn, usage=None, outcome=reason)]
    return [*failed, fallback(turn, reason, role),
            model_call(role=role, model=OFFLINE, turn=turn, usage=update.get("usage"))]


def route(turn: int, *, intent: str, confidence: float, brain: str, kind: str,
          needs_agent: bool, needs_account: bool) -> AuditEvent:
    """The router's decision: intent and confidence, and which brain made it."""
    return AuditEvent(kind=AuditKind.ROUTE, actor=BOT, turn=turn, reason=kind, intent=intent,
                      confidence=confidence, payload={"brain": brain, "needs_agent": needs_agent,
                                                      "needs_account": needs_account})


def guardrail(turn: int, stage: str, actions: list[str]) -> AuditEvent | None:
    """An input or output check that acted (flags raised, a reply repaired or replaced)."""
    if not actions:
        return None
    return AuditEvent(kind=AuditKind.GUARDRAIL, actor=BOT, turn=turn, reason=stage,
                      payload={"actions": actions})


def verification(turn: int, outcome: str, method: str, **facts: Any) -> AuditEvent:
    """An identity check decided in the graph (the number on file); order claims are recorded
    by the ledger itself (tools/verification.py)."""
    return AuditEvent(kind=AuditKind.VERIFICATION, actor="customer", turn=turn, reason=outcome,
                      payload={"method": method, **facts})
