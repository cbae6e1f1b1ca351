"""The desk's event log (desk_events): the one place an event is written, and the one reading
of "what the customer and agents said since the handoff"."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from graph.base import audit
from graph.base.sql import Conn, required
from server.desk.audit_trail import audit_event_for
from server.desk.states import DeskState

MESSAGE_KINDS = ("customer_message", "agent_message")


async def record(conn: Conn, key: str, actor: str, kind: str, *, at: datetime | None = None,
                 from_state: str | None = None, to_state: str | None = None,
                 reason: str | None = None, payload: dict[str, Any] | None = None,
                 turn: int | None = None) -> int:
    """Append one event (in the caller's transaction) and return its id. `at` defaults to the
    database's now(); the watcher passes its own clock so a run's events share one time.
    `turn`: the bot turn it belongs to, for the audit trail (a handoff's)."""
    cursor = await conn.execute(
        "INSERT INTO desk_events (conversation_key, at, actor, kind, from_state, to_state, reason,"
        " payload) VALUES (%s, coalesce(%s, now()), %s, %s, %s, %s, %s, %s) RETURNING id",
        (key, at, actor, kind, from_state, to_state, reason,
         json.dumps(payload or {}, default=str)))
    event_id = int(required(await cursor.fetchone())["id"])
    event = audit_event_for(key, actor, kind, from_state=from_state, to_state=to_state,
                            reason=reason, payload=payload, turn=turn)
    if event is not None:  # handoffs, hand-backs and console actions (server/desk/audit_trail.py)
        await audit.record(conn, event)
    return event_id


def _is_handoff(event: Mapping[str, Any]) -> bool:
    """The bot handing the conversation to a human (Desk.open_handoff's event)."""
    return (event["kind"] == "transition" and event["actor"] == "bot"
            and event["to_state"] == DeskState.PENDING_AGENT)


def since_handoff(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages exchanged with the customer after the bot's latest handoff, oldest first
    (`events` in id order, as desk_events rows): from ('customer' or 'agent'), agent (the
    actor without 'agent:'), text (a template's text as sent, or its name), at."""
    events = list(events)
    start = max((e["id"] for e in events if _is_handoff(e)), default=0)
    shown = []
    for event in events:
        if event["id"] > start and event["kind"] in MESSAGE_KINDS:
            payload = event["payload"] or {}
            shown.append({
                "from": "customer" if event["kind"] == "customer_message" else "agent",
                "agent": event["actor"].removeprefix("agent:"),
                "text": payload.get("text") or payload.get("rendered") or f"[template {payload.get('template')}]",
                "at": event["at"]})
    return shown


async def exchange_since_handoff(conn: Conn, key: str) -> list[dict[str, str]]:
    """since_handoff for one conversation, as the graph's hand-back takes it (from, text)."""
    rows = await (await conn.execute(
        "SELECT id, at, actor, kind, to_state, payload FROM desk_events"
        " WHERE conversation_key = %s AND kind IN ('transition', %s, %s) ORDER BY id",
        (key, *MESSAGE_KINDS))).fetchall()
    return [{"from": m["from"], "text": m["text"]} for m in since_handoff(rows)]
