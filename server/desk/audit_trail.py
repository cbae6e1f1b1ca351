"""Which desk events are audit events (graph/base/audit.py): a bot handoff, a human's hand-back
(return to the bot, resolve) and every other console action. `events.record` writes the one
it maps to in the same transaction, so a desk change and its audit event exist together.
What people wrote (messages, notes) stays in the desk's own log: the trail keeps the action,
who did it, and ids."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graph.base.audit import AuditEvent, AuditKind
from server.conversation_ids import ref
from server.desk.states import DeskState

RETURNS = ("return_to_bot", "resolved")
"""Hand-back reasons (server/desk/actions.py `_hand_back`)."""
KEPT = ("assigned_agent", "team", "previous_agent", "from_agent", "to_agent", "template",
        "asked", "reference")
"""Desk payload fields kept in the trail: agent ids, teams, a template's name, a reference."""


def audit_event_for(key: str, actor: str, kind: str, *, from_state: str | None,
                    to_state: str | None, reason: str | None,
                    payload: Mapping[str, Any] | None, turn: int | None = None) -> AuditEvent | None:
    """The audit event a desk event stands for, or None (customer and system events: the
    trail has them from where they happen)."""
    kept = {k: v for k, v in (payload or {}).items() if k in KEPT and v is not None}
    states = {k: v for k, v in (("from_state", from_state), ("to_state", to_state)) if v}
    if actor == "bot" and kind == "transition" and to_state == DeskState.PENDING_AGENT:
        return AuditEvent(kind=AuditKind.HANDOFF, actor=actor, conversation_ref=ref(key),
                          turn=turn, reason=reason, payload={**kept, **states})
    if not actor.startswith("agent:"):
        return None
    if kind == "transition" and reason in RETURNS:
        return AuditEvent(kind=AuditKind.RETURN, actor=actor, conversation_ref=ref(key),
                          reason=reason, payload=states)
    return AuditEvent(kind=AuditKind.CONSOLE, actor=actor, conversation_ref=ref(key),
                      reason=kind if kind != "transition" else reason or kind,
                      payload={"action": kind, **kept, **states})
