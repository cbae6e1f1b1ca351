"""What the report reads outside the desk: conversations from the inbox (inbound_messages),
the bot's replies from the outbox, and model cost from the audit trail (audit_events)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from graph.base.audit import AuditKind
from graph.base.sql import Conn


@dataclass(frozen=True)
class Started:
    """A conversation with customer messages in the window."""

    key: str
    started_at: datetime
    """When its first message in the window was received."""
    first_bot_reply_at: datetime | None
    """When the first bot reply queued at or after that was sent."""


# A bot reply is queued by the turn's commit under the turn key "{conversation}:{fence}", its
# parts as "{turn key}:{i}" (server/inbound/turn.py); agents' replies, CSAT prompts and read
# receipts have keys of their own ("agent:", "csat:", "read:").
_STARTED = """
WITH starts AS (
    SELECT conversation_key AS key, min(received_at) AS started_at FROM inbound_messages
    WHERE needs_turn AND received_at >= %(since)s AND received_at < %(until)s
    GROUP BY conversation_key),
bot_replies AS (
    SELECT conversation_key AS key, created_at, sent_at FROM outbox
    WHERE kind IN ('text', 'template') AND sent_at IS NOT NULL AND created_at >= %(since)s
      AND left(idempotency_key, length(conversation_key) + 1) = conversation_key || ':')
SELECT s.key, s.started_at, min(b.sent_at) AS first_bot_reply_at
FROM starts s LEFT JOIN bot_replies b ON b.key = s.key AND b.created_at >= s.started_at
GROUP BY s.key, s.started_at"""


async def started(conn: Conn, since: datetime, until: datetime) -> list[Started]:
    """Conversations with a customer message that calls for an answer (not a reaction or a
    status) received in [since, until)."""
    rows = await (await conn.execute(_STARTED, {"since": since, "until": until})).fetchall()
    return [Started(r["key"], r["started_at"], r["first_bot_reply_at"]) for r in rows]


async def model_cost(conn: Conn, since: datetime, until: datetime) -> dict[date, Decimal]:
    """The model cost (USD) of the calls made in [since, until), per UTC day."""
    rows = await (await conn.execute(
        "SELECT (at AT TIME ZONE 'UTC')::date AS day, sum(cost_usd) AS cost FROM audit_events"
        " WHERE kind = %s AND at >= %s AND at < %s AND cost_usd IS NOT NULL GROUP BY 1",
        (str(AuditKind.MODEL_CALL), since, until))).fetchall()
    return {r["day"]: Decimal(r["cost"]) for r in rows}
