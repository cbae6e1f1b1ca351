"""The inbox: every customer message, stored durably before the webhook is acknowledged.

A provider's retry of the same message is a no-op (unique on provider + message id). A
message waits here until a worker takes it into a turn; its text stays raw only that long,
and is redacted once the turn has committed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection

from nodes.checks import redact_pii
from server.channels.models import InboundMessage

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbound_messages (
    id bigserial PRIMARY KEY,
    provider text NOT NULL, provider_message_id text NOT NULL,
    conversation_key text NOT NULL, phone text, kind text NOT NULL, body text NOT NULL,
    needs_turn boolean NOT NULL, sent_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    state text NOT NULL DEFAULT 'pending',  -- pending, in_turn, done, stale, skipped
    turn_key text, payload jsonb NOT NULL,
    UNIQUE (provider, provider_message_id));
CREATE INDEX IF NOT EXISTS inbound_pending ON inbound_messages (conversation_key, state, sent_at, id);
CREATE SEQUENCE IF NOT EXISTS turn_fence_seq;
CREATE TABLE IF NOT EXISTS conversation_fences (
    conversation_key text PRIMARY KEY, fence bigint NOT NULL);
"""


@dataclass(frozen=True)
class StoredMessage:
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


async def store_many(conn: AsyncConnection, messages: list[InboundMessage]) -> set[tuple[str, str]]:
    """Insert messages in one statement; the (provider, message id) pairs that were new.
    A pair stored before, by this call or an earlier one, is left as it was."""
    if not messages:
        return set()
    # One JSON parameter: json.dumps runs in C, where dumping nine arrays runs in Python.
    rows = json.dumps([
        {"provider": m.provider, "provider_message_id": m.provider_message_id,
         "conversation_key": m.customer_key, "phone": m.phone, "kind": m.kind, "body": m.text,
         "needs_turn": m.needs_turn, "sent_at": m.sent_at.isoformat(), "payload": m.raw}
        for m in messages], default=str)
    inserted = await (await conn.execute(
        "INSERT INTO inbound_messages (provider, provider_message_id, conversation_key, phone,"
        " kind, body, needs_turn, sent_at, payload) SELECT provider, provider_message_id,"
        " conversation_key, phone, kind, body, needs_turn, sent_at, payload"
        " FROM jsonb_to_recordset(%s::jsonb) AS r(provider text, provider_message_id text,"
        " conversation_key text, phone text, kind text, body text, needs_turn boolean,"
        " sent_at timestamptz, payload jsonb)"
        " ON CONFLICT (provider, provider_message_id) DO NOTHING"
        " RETURNING provider, provider_message_id", (rows,))).fetchall()
    return {(row["provider"], row["provider_message_id"]) for row in inserted}


async def unfinished(conn: AsyncConnection, conversation_key: str) -> list[StoredMessage]:
    """Messages not yet answered: a crashed turn's first, then pending ones, in sent order."""
    rows = await (await conn.execute(
        "SELECT id, provider, provider_message_id, conversation_key, phone, body, needs_turn,"
        " sent_at, state, turn_key FROM inbound_messages WHERE conversation_key = %s"
        " AND state IN ('pending', 'in_turn') ORDER BY state = 'pending', sent_at, id",
        (conversation_key,))).fetchall()
    return [StoredMessage(**row) for row in rows]


async def claim(conn: AsyncConnection, ids: list[int], turn_key: str) -> None:
    await conn.execute("UPDATE inbound_messages SET state = 'in_turn', turn_key = %s"
                       " WHERE id = ANY(%s)", (turn_key, ids))


async def settle(conn: AsyncConnection, ids: list[int], state: str) -> None:
    """Mark messages done, stale or skipped, and redact their text: it has served its turn."""
    rows = await (await conn.execute(
        "SELECT id, body FROM inbound_messages WHERE id = ANY(%s)", (ids,))).fetchall()
    for row in rows:
        await conn.execute("UPDATE inbound_messages SET state = %s, body = %s WHERE id = %s",
                           (state, redact_pii(row["body"])[0], row["id"]))


async def next_fence(conn: AsyncConnection) -> int:
    """A fencing token larger than every one issued before, in any process."""
    return (await (await conn.execute("SELECT nextval('turn_fence_seq') AS fence")).fetchone())["fence"]


async def take_fence(conn: AsyncConnection, conversation_key: str, fence: int) -> bool:
    """Record this worker's fence; False if a newer worker has already committed."""
    cursor = await conn.execute(
        "INSERT INTO conversation_fences AS f (conversation_key, fence) VALUES (%s, %s)"
        " ON CONFLICT (conversation_key) DO UPDATE SET fence = excluded.fence"
        " WHERE f.fence <= excluded.fence", (conversation_key, fence))
    return cursor.rowcount == 1
