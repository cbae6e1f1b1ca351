"""Queueing replies and read receipts in the outbox table, and applying delivery statuses."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

WHATSAPP_TEXT_LIMIT = 4096
CUSTOMER_WINDOW = timedelta(hours=24)
STATUSES = ("pending", "sending", "sent", "delivered", "read", "failed", "dead", "skipped", "unknown")
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS outbox (
    id bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    conversation_key text NOT NULL,
    recipient text NOT NULL,
    provider text NOT NULL CHECK (provider IN ('meta', 'twilio')),
    kind text NOT NULL CHECK (kind IN ('text', 'template', 'read_receipt')),
    body text, template jsonb, reply_to_message_id text,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN {STATUSES!r}),
    provider_message_id text,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now());
CREATE UNIQUE INDEX IF NOT EXISTS outbox_provider_message_id
    ON outbox (provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS outbox_open_per_recipient
    ON outbox (provider, recipient, id) WHERE status IN ('pending', 'sending');
CREATE INDEX IF NOT EXISTS outbox_in_flight ON outbox (updated_at) WHERE status = 'sending';
"""


async def setup(pool: AsyncConnectionPool) -> None:
    """Create the table; the advisory lock keeps concurrent first starts from racing on DDL."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('switchboard.outbox'))")
        await conn.execute(SCHEMA, prepare=False)


# --- Splitting --------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?…][\"')\]]*\s")


def split_for_whatsapp(text: str, limit: int = WHATSAPP_TEXT_LIMIT) -> list[str]:
    """Parts of at most `limit` characters, cut at a paragraph, else a sentence, else a word,
    else hard. A boundary in the first half of a part is passed over for a finer one, so
    one early blank line does not leave a tiny first message."""
    parts: list[str] = []
    text = text.strip()
    while len(text) > limit:
        window = text[: limit + 1]  # a boundary right after the limit still fits
        cut = window.rfind("\n\n")
        if cut < limit // 2:
            sentences = [m.end() - 1 for m in _SENTENCE_END.finditer(window)]
            cut = sentences[-1] if sentences else -1
        if cut < limit // 2:
            cut = max(window.rfind(" "), window.rfind("\n"), window.rfind("\t"))
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*parts, text] if text else parts


# --- Enqueueing and statuses ------------------------------------------------------------------

_INSERT = ("INSERT INTO outbox (idempotency_key, conversation_key, recipient, provider, kind, body,"
           " template, reply_to_message_id, next_attempt_at, created_at, updated_at)"
           " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
           " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id")


async def enqueue_reply(conn: AsyncConnection, *, conversation_key: str, recipient: str,
                        provider: str, texts: Sequence[str], idempotency_key: str,
                        last_customer_at: datetime, now: datetime,
                        window_template: Mapping[str, Any], reply_to: str | None = None) -> list[int]:
    """Queue one turn's replies in the caller's transaction; returns the ids of new rows
    (none when this key was queued before, as when a crashed turn is re-run).

    Outside the 24-hour customer window WhatsApp refuses free text, so the approved
    re-engagement template goes instead (the replies themselves stay in the conversation's
    history). Parts share the key space `{key}:{i}`, so a re-run that lands on the other
    side of the window still cannot send both a text and a template."""
    if now - last_customer_at > CUSTOMER_WINDOW:
        rows = [("template", None, json.dumps(dict(window_template)))]
    else:
        rows = [("text", part, None) for text in texts for part in split_for_whatsapp(text)]
    ids = []
    for i, (kind, body, template) in enumerate(rows):
        cursor = await conn.execute(_INSERT, (
            f"{idempotency_key}:{i}", conversation_key, recipient, provider, kind, body, template,
            reply_to if i == 0 else None, now, now, now))
        if row := await cursor.fetchone():
            ids.append(row["id"] if isinstance(row, Mapping) else row[0])
    return ids


async def enqueue_read_receipt(conn: AsyncConnection, *, provider: str, recipient: str,
                               inbound_message_id: str, conversation_key: str) -> int | None:
    """Queue "read + typing" for an inbound message, at most once per message."""
    now = datetime.now(UTC)
    cursor = await conn.execute(_INSERT, (
        f"read:{provider}:{inbound_message_id}", conversation_key, recipient, provider,
        "read_receipt", None, None, inbound_message_id, now, now, now))
    row = await cursor.fetchone()
    return None if row is None else (row["id"] if isinstance(row, Mapping) else row[0])


# A status moves a row only from these earlier states: webhooks arrive out of order and are
# retried, and a late 'delivered' must not undo 'read'. 'failed' can follow 'sent' only.
_MOVES_FROM = {
    "sent": ("sending", "unknown"),
    "delivered": ("sending", "unknown", "sent"),
    "read": ("sending", "unknown", "sent", "delivered"),
    "failed": ("sending", "unknown", "sent"),
}
_PROVIDER_STATUS = {"undelivered": "failed"}  # Twilio's word for a failed delivery


def _get(update: Any, name: str) -> Any:
    return update.get(name) if isinstance(update, Mapping) else getattr(update, name, None)


async def apply_status(conn: AsyncConnection, update: Any) -> bool:
    """Apply a delivery status (a mapping or an object with provider_message_id, status,
    errors, at). True when it moved a row forward; unknown ids and stale or unknown
    statuses (e.g. Twilio's 'queued') change nothing."""
    status = _PROVIDER_STATUS.get(_get(update, "status"), _get(update, "status"))
    message_id, errors, at = (_get(update, k) for k in ("provider_message_id", "errors", "at"))
    if status not in _MOVES_FROM or not message_id:
        return False
    if isinstance(at, int | float) or (isinstance(at, str) and at.isdigit()):
        at = datetime.fromtimestamp(float(at), UTC)  # Meta sends epoch seconds as a string
    cursor = await conn.execute(
        "UPDATE outbox SET status = %s, last_error = COALESCE(%s::jsonb, last_error),"
        " updated_at = COALESCE(%s, now()) WHERE provider_message_id = %s AND status = ANY(%s)",
        (status, json.dumps(errors, default=str) if errors else None,
         at if isinstance(at, datetime) else None, message_id, list(_MOVES_FROM[status])))
    return cursor.rowcount == 1
