"""Queueing replies and read receipts in the outbox table, and applying delivery statuses."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from graph import window
from graph.base.sql import Conn
from server import audit_events
from server.consent import first_contact
from server.consent import store as consent
from server.outbox import opt_out

WHATSAPP_TEXT_LIMIT = 4096
TEXT_LIMITS = {"meta": WHATSAPP_TEXT_LIMIT, "twilio": 1600}
"""Longest text part per provider: Twilio refuses a Body over 1,600 characters (error 21617)."""
READ_RECEIPT_PROVIDERS = frozenset({"meta"})
"""Providers that can mark a message read and show "typing": Twilio's Messages API cannot."""
ROW_COLUMNS = ("id, conversation_key, provider, recipient, kind, body, template, reply_to_message_id,"
               " attempts, resends, interactive")
"""What the worker reads of a row to send it or to tell the desk about it."""
STATUSES = ("pending", "sending", "unconfirmed", "sent", "delivered", "read", "failed", "dead",
            "skipped", "unknown")
"""'sending': claimed, the call may be under way (until claimed_until). 'unconfirmed': a send
whose outcome is unknown (the call timed out, or its sender died), waiting for a status webhook
until next_attempt_at, then sent again. 'unknown': still unconfirmed after every resend.
The table's outbox_status_check (server/migrations/0001_initial.sql) allows the same list."""


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
           " template, reply_to_message_id, next_attempt_at, created_at, updated_at, interactive,"
           " consent_notice) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
           " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id")
INTERACTIVE_BODY_LIMIT = 1024
"""Longest body of a WhatsApp button or list message: a longer last part goes as plain text."""


async def enqueue_reply(conn: Conn, *, conversation_key: str, recipient: str,
                        provider: str, texts: Sequence[str], idempotency_key: str,
                        last_customer_at: datetime, now: datetime,
                        window_template: Mapping[str, Any], reply_to: str | None = None,
                        choices: Sequence[Mapping[str, Any]] = (),
                        introduction: str | None = None, consent_notice: bool = False) -> list[int]:
    """Queue one turn's replies in the caller's transaction; returns the ids of new rows
    (none when this key was queued before, as when a crashed turn is re-run).

    Outside the 24-hour customer window WhatsApp refuses free text, so the approved
    re-engagement template goes instead (the replies themselves stay in the conversation's
    history). Parts share the key space `{key}:{i}`, so a re-run that lands on the other
    side of the window still cannot send both a text and a template.

    `choices` (graph/state.py Choice) go with the last text part as its `interactive` column,
    for the sender to show as reply buttons or a list; the part's text still lists them. They
    are dropped outside the window (a template has none) and when that part is too long for
    an interactive message's body.

    Consent (server/outbox/opt_out.py): for a customer who opted out the rows are failed at
    once ('opted_out', shown to agents), unless they are the `consent_notice` confirming a
    STOP or START. `introduction` (server/consent/first_contact.py) goes before the first text
    the business ever sends this customer, and only then."""
    status = await consent.status_of(conn, conversation_key)
    refused = not consent_notice and bool(status and status["status"] == "opted_out")
    if not window.is_open(last_customer_at, now):
        rows: list[tuple[str, str | None, str | None, str | None]] = [
            ("template", None, json.dumps(dict(window_template)), None)]
    else:
        if introduction and not (refused or consent_notice or (status and status["identified_at"])):
            texts = await first_contact.introduce(conn, conversation_key, texts, introduction)
        limit = TEXT_LIMITS.get(provider, WHATSAPP_TEXT_LIMIT)
        rows = [("text", part, None, None)
                for text in texts for part in split_for_whatsapp(text, limit)]
        if choices and rows and len(rows[-1][1] or "") <= INTERACTIVE_BODY_LIMIT:
            offered = json.dumps({"choices": [dict(c) for c in choices]})
            rows[-1] = (*rows[-1][:3], offered)
    ids = []
    for i, (kind, body, template, interactive) in enumerate(rows):
        cursor = await conn.execute(_INSERT, (
            f"{idempotency_key}:{i}", conversation_key, recipient, provider, kind, body, template,
            reply_to if i == 0 else None, now, now, now, interactive, consent_notice))
        if row := await cursor.fetchone():
            ids.append(row["id"] if isinstance(row, Mapping) else row[0])
    if refused and ids:
        await opt_out.refuse(conn, now, conversation_key)
    return ids


async def enqueue_template(conn: Conn, *, conversation_key: str, recipient: str, provider: str,
                           template: Mapping[str, Any], idempotency_key: str, now: datetime) -> int | None:
    """Queue one template message chosen on purpose (an agent's, filled from the catalogue,
    server/outbox/templates_offer.py), inside or outside the window; None when this key was
    queued before. For a customer who opted out it is failed at once, as enqueue_reply's rows."""
    cursor = await conn.execute(_INSERT, (
        f"{idempotency_key}:0", conversation_key, recipient, provider, "template", None,
        json.dumps(dict(template)), None, now, now, now, None, False))
    row = await cursor.fetchone()
    if row is None:
        return None
    if await consent.is_opted_out(conn, conversation_key):
        await opt_out.refuse(conn, now, conversation_key)
    return row["id"] if isinstance(row, Mapping) else row[0]


async def enqueue_read_receipt(conn: Conn, *, provider: str, recipient: str,
                               inbound_message_id: str, conversation_key: str) -> int | None:
    """Queue "read + typing" for an inbound message, at most once per message; nothing for a
    provider that has neither (None)."""
    if provider not in READ_RECEIPT_PROVIDERS:
        return None
    now = datetime.now(UTC)
    cursor = await conn.execute(_INSERT, (
        f"read:{provider}:{inbound_message_id}", conversation_key, recipient, provider,
        "read_receipt", None, None, inbound_message_id, now, now, now, None, False))
    row = await cursor.fetchone()
    return None if row is None else (row["id"] if isinstance(row, Mapping) else row[0])


# A status moves a row only from these earlier states: webhooks arrive out of order and are
# retried, and a late 'delivered' must not undo 'read'. 'failed' can follow 'sent' only. A
# status proves the message went, so it also ends a row waiting to retry or given up on (such
# rows have no provider id yet: only a status naming the row's outbox id can reach them).
_MOVES_FROM = {
    "sent": ("sending", "unconfirmed", "unknown", "pending", "dead"),
    "delivered": ("sending", "unconfirmed", "unknown", "pending", "dead", "sent"),
    "read": ("sending", "unconfirmed", "unknown", "pending", "dead", "sent", "delivered"),
    "failed": ("sending", "unconfirmed", "unknown", "sent"),
}
# Twilio's words: 'undelivered' is a failed delivery; 'accepted', 'queued' and 'sending' say
# Twilio has the message, which is what 'sent' means here (Meta's 'sent' comes later in its
# path), so they too settle a send whose response was lost.
_PROVIDER_STATUS = {"undelivered": "failed", "accepted": "sent", "queued": "sent", "sending": "sent"}

# The row is found by the provider's message id, or else by the outbox id the send carried
# (Meta's biz_opaque_callback_data, Twilio's status callback URL), which then records the
# provider's id: a send whose response never came still gets settled by its statuses.
_APPLY = """
UPDATE outbox SET status = %(status)s, last_error = COALESCE(%(errors)s::jsonb, last_error),
    provider_message_id = COALESCE(provider_message_id, %(message_id)s),
    updated_at = COALESCE(%(at)s, now()),
    sent_at = CASE WHEN %(status)s::text = 'failed' THEN sent_at ELSE COALESCE(sent_at, %(at)s, now()) END,
    tell_desk = (%(status)s::text = 'failed' AND kind <> 'read_receipt')
WHERE status = ANY(%(from)s) AND (provider_message_id = %(message_id)s
    OR (id = %(outbox_id)s AND provider_message_id IS NULL
        AND (%(provider)s::text IS NULL OR provider = %(provider)s)
        AND NOT EXISTS (SELECT 1 FROM outbox taken WHERE taken.provider_message_id = %(message_id)s)))
RETURNING id, kind, provider, conversation_key
"""


def _get(update: Any, name: str) -> Any:
    return update.get(name) if isinstance(update, Mapping) else getattr(update, name, None)


async def apply_status(conn: Conn, update: Any) -> bool:
    """Apply a delivery status (a mapping or an object with provider_message_id, status,
    errors, at, and optionally outbox_id and provider). True when it moved a row forward;
    unknown ids and stale or unknown statuses change nothing. A row it fails is marked for
    the worker to tell the desk (the webhook's transaction has no desk)."""
    status = _PROVIDER_STATUS.get(_get(update, "status"), _get(update, "status"))
    message_id, outbox_id = _get(update, "provider_message_id"), _get(update, "outbox_id")
    errors, at = _get(update, "errors"), _get(update, "at")
    if status not in _MOVES_FROM or not (message_id or outbox_id):
        return False
    if isinstance(at, int | float) or (isinstance(at, str) and at.isdigit()):
        at = datetime.fromtimestamp(float(at), UTC)  # Meta sends epoch seconds as a string
    cursor = await conn.execute(_APPLY, {
        "status": status, "errors": json.dumps(errors, default=str) if errors else None,
        "message_id": message_id or None, "at": at if isinstance(at, datetime) else None,
        "from": list(_MOVES_FROM[status]), "outbox_id": outbox_id,
        "provider": _get(update, "provider")})
    moved = await cursor.fetchone()
    if moved is None:
        return False
    # The status is audited with the move it explains (server/audit_events.py).
    first_error = errors[0] if isinstance(errors, list | tuple) and errors else errors
    await audit_events.record_send(
        conn, moved, status, error=first_error if isinstance(first_error, Mapping) else None,
        by_status_webhook=True)
    return True
