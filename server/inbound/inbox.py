"""The inbox: every customer message, stored durably before the webhook is acknowledged.

A provider's retry of the same message is a no-op (unique on provider + message id). A
message waits here until a worker takes it into a turn; its text stays raw only that long,
and is redacted once the turn has committed (a message that starts no turn, such as a reaction,
is stored redacted). The provider's JSON is kept minimised: its envelope of ids, types and
times, never the content (see `server.inbound.payload`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from graph.base.pii import redact
from graph.base.sql import Conn
from server.channels.models import InboundMessage
from server.inbound.payload import minimise

Outcome = Literal["replied", "handoff", "silent"]


@dataclass(frozen=True)
class StoredMessage:
    """A customer message as the inbox stores it, waiting for or in a turn."""

    id: int
    provider: str
    provider_message_id: str
    conversation_key: str
    phone: str | None
    body: str
    needs_turn: bool
    sent_at: datetime
    state: str
    turn_key: str | None


async def store_many(conn: Conn, messages: list[InboundMessage]) -> set[tuple[str, str]]:
    """Insert messages in one statement; the (provider, message id) pairs that were new.
    A pair stored before, by this call or an earlier one, is left as it was."""
    if not messages:
        return set()
    # One JSON parameter: json.dumps runs in C, where dumping nine arrays runs in Python.
    rows = json.dumps([
        {"provider": m.provider, "provider_message_id": m.provider_message_id,
         "conversation_key": m.conversation_id, "phone": m.phone, "kind": m.kind,
         "body": m.text if m.needs_turn else redact(m.text)[0],  # no turn will read it raw
         "needs_turn": m.needs_turn, "sent_at": m.sent_at.isoformat(),
         "payload": minimise(m.provider, m.raw),
         "truncated_from": m.truncated_from}
        for m in messages], default=str)
    inserted = await (await conn.execute(
        "INSERT INTO inbound_messages (provider, provider_message_id, conversation_key, phone,"
        " kind, body, needs_turn, sent_at, payload, truncated_from) SELECT provider,"
        " provider_message_id, conversation_key, phone, kind, body, needs_turn, sent_at, payload,"
        " truncated_from FROM jsonb_to_recordset(%s::jsonb) AS r(provider text,"
        " provider_message_id text, conversation_key text, phone text, kind text, body text,"
        " needs_turn boolean, sent_at timestamptz, payload jsonb, truncated_from integer)"
        " ON CONFLICT (provider, provider_message_id) DO NOTHING"
        " RETURNING provider, provider_message_id", (rows,))).fetchall()
    return {(row["provider"], row["provider_message_id"]) for row in inserted}


async def unfinished(conn: Conn, conversation_key: str) -> list[StoredMessage]:
    """Messages not yet answered: a crashed turn's first, then pending ones, in sent order."""
    rows = await (await conn.execute(
        "SELECT id, provider, provider_message_id, conversation_key, phone, body, needs_turn,"
        " sent_at, state, turn_key FROM inbound_messages WHERE conversation_key = %s"
        " AND state IN ('pending', 'in_turn') ORDER BY state = 'pending', sent_at, id",
        (conversation_key,))).fetchall()
    return [StoredMessage(**row) for row in rows]


async def claim(conn: Conn, ids: list[int], turn_key: str) -> None:
    """Mark messages as taken by a turn (in the turn's transaction)."""
    await conn.execute("UPDATE inbound_messages SET state = 'in_turn', turn_key = %s"
                       " WHERE id = ANY(%s)", (turn_key, ids))


async def settle(conn: Conn, messages: list[StoredMessage], state: str) -> None:
    """Mark messages done, stale or skipped, and redact their text: it has served its turn."""
    if messages:
        await conn.execute(
            "UPDATE inbound_messages m SET state = %s, body = r.body"
            " FROM unnest(%s::bigint[], %s::text[]) AS r(id, body) WHERE m.id = r.id",
            (state, [m.id for m in messages], [redact(m.body)[0] for m in messages]))


async def record_turn(conn: Conn, *, turn_key: str, conversation_key: str,
                      outcome: Outcome, reason: str | None, messages: int, replies: int) -> bool:
    """The durable fact that a turn finished, written in the transaction that commits it;
    False if it was recorded before."""
    cursor = await conn.execute(
        "INSERT INTO turns (turn_key, conversation_key, outcome, reason, messages, replies)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (turn_key) DO NOTHING",
        (turn_key, conversation_key, outcome, reason, messages, replies))
    return cursor.rowcount == 1


async def turn_recorded(conn: Conn, turn_key: str) -> bool:
    """Whether the turn's outcome is recorded, i.e. it committed."""
    return await (await conn.execute("SELECT 1 FROM turns WHERE turn_key = %s",
                                      (turn_key,))).fetchone() is not None


async def unscheduled(conn: Conn, older_than_s: float) -> list[dict]:
    """Conversations with unanswered messages received more than `older_than_s` ago, with the
    latest such message's time: what Redis should have due (the sweep reschedules them)."""
    return await (await conn.execute(
        "SELECT conversation_key, extract(epoch FROM max(received_at))::float AS last_at"
        " FROM inbound_messages WHERE state IN ('pending', 'in_turn')"
        " AND received_at <= now() - make_interval(secs => %s) GROUP BY conversation_key",
        (older_than_s,))).fetchall()
