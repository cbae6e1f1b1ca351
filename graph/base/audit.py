"""The audit trail: one append-only, redacted stream of who decided what, when and why.

Every decision is one `AuditEvent` written with `record` in the caller's transaction, so an
event exists exactly when the change it explains was committed. A conversation is named by
its opaque ref (server/conversation_ids.py), never by the number; payload strings are
redacted here, whoever calls. Only this module writes `audit_events`
(server/migrations/0008_audit_events.sql); erasure and retention delete from it through
`erase` and `delete_before`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from graph.base import pii
from graph.base.sql import Conn


class AuditKind(StrEnum):
    """What happened. The stored value is the name in lower case."""

    INBOUND = "inbound"                # a customer message was stored
    ROUTE = "route"                    # the router's intent, confidence and brain
    VERIFICATION = "verification"      # an identity claim and its outcome
    TOOL_CALL = "tool_call"            # a tool, its redacted arguments and outcome
    MODEL_CALL = "model_call"          # a model call: model, tokens, cost
    GUARDRAIL = "guardrail"            # an input or output check that acted
    FALLBACK = "fallback"              # the offline brain stood in for the model
    BREAKER = "breaker"                # the model breaker opened, half-opened or closed
    REPLY = "reply"                    # the bot's reply of a turn was queued
    SILENCE = "silence"                # a turn deliberately said nothing, and why
    HANDOFF = "handoff"                # the bot handed the conversation to a human
    RETURN = "return"                  # a human handed it back to the bot
    SEND = "send"                      # an outgoing message's status (sent, delivered, failed…)
    CONSOLE = "console"                # a console action by an agent
    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"
    ERASURE = "erasure"                # tombstone: a customer's records were erased


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    """One decision: who (`actor`: 'customer', 'bot', 'agent:<name>', 'system', 'cli'), what
    (`kind`, `payload`), why (`reason`), for which conversation (`conversation_ref`) and turn."""

    kind: AuditKind
    actor: str
    conversation_ref: str | None = None
    turn: int | None = None
    reason: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None
    model: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    prompt_version: str | None = None
    intent: str | None = None
    confidence: float | None = None


def redacted(value: Any) -> Any:
    """The value with every string in it redacted (pii.redact), however deeply nested."""
    if isinstance(value, str):
        return pii.redact(value)[0]
    if isinstance(value, Mapping):
        return {str(k): redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redacted(v) for v in value]
    return value


_COLUMNS = ("at", "conversation_ref", "turn", "actor", "kind", "reason", "payload", "model",
            "tokens_in", "tokens_out", "cost_usd", "prompt_version", "intent", "confidence")


def _row(event: AuditEvent) -> tuple:
    reason = pii.redact(event.reason)[0] if event.reason else None
    return (event.at, event.conversation_ref, event.turn, event.actor, str(event.kind), reason,
            json.dumps(redacted(dict(event.payload)), default=str), event.model,
            event.tokens_in, event.tokens_out, event.cost_usd, event.prompt_version,
            event.intent, event.confidence)


async def record(conn: Conn, *events: AuditEvent) -> None:
    """Append events in the caller's transaction (`at` defaults to the database's now())."""
    if not events:
        return
    placeholders = "(coalesce(%s, now()), " + ", ".join(["%s"] * (len(_COLUMNS) - 1)) + ")"
    async with conn.cursor() as cursor:
        await cursor.executemany(
            f"INSERT INTO audit_events ({', '.join(_COLUMNS)}) VALUES {placeholders}",
            [_row(e) for e in events])


async def timeline(conn: Conn, conversation_ref: str, limit: int = 1000) -> list[dict[str, Any]]:
    """One conversation's events, oldest first."""
    rows = await (await conn.execute(
        "SELECT id, " + ", ".join(_COLUMNS) + " FROM audit_events WHERE conversation_ref = %s"
        " ORDER BY at, id LIMIT %s", (conversation_ref, limit))).fetchall()
    return [dict(r) for r in rows]


async def erase(conn: Conn, conversation_refs: Iterable[str], *, by: str,
                reason: str | None = None) -> int:
    """Delete the conversations' events and leave one tombstone: that an erasure happened,
    when and by whom, and how much it removed, but nothing that names the customer (not even
    the ref, which the secret maps back to a number). Returns the rows deleted."""
    refs = list(conversation_refs)
    cursor = await conn.execute(
        "DELETE FROM audit_events WHERE conversation_ref = ANY(%s)", (refs,))
    deleted = cursor.rowcount
    await record(conn, AuditEvent(kind=AuditKind.ERASURE, actor=by, reason=reason,
                                  payload={"conversations": len(refs), "events_deleted": deleted}))
    return deleted


async def delete_before(conn: Conn, cutoff: datetime) -> int:
    """Retention: delete events older than the cutoff, except erasure tombstones."""
    cursor = await conn.execute(
        "DELETE FROM audit_events WHERE at < %s AND kind <> %s", (cutoff, str(AuditKind.ERASURE)))
    return cursor.rowcount
