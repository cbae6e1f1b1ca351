"""Messages that will not arrive, made visible: rows no sender can take, failures that came by
status webhook, and the outbox's backlog for /readyz.

The worker's settle pass (once a second) fails what it cannot send and hands the rows to the
desk; the webhook that reports a failure only marks its row (`tell_desk`), since intake's
transaction has no desk, and the same pass tells the desk. So every message that failed or
stayed unknown reaches the agents, whichever way the news came."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from graph.base.sql import Conn, required
from server.outbox import opt_out
from server.outbox.providers import NO_SENDER, no_sender_reason
from server.outbox.queue import ROW_COLUMNS

PROVIDER_NAMES = {"meta": "WhatsApp", "twilio": "Twilio"}
SWEEP_LIMIT = 500
"""Rows one settle pass takes of each kind; the rest go on the next pass."""

# A pending row of a provider with no sender is failed; an unconfirmed one whose status wait is
# over may have gone, so it is unknown (a status webhook can still settle it).
_UNSENDABLE = f"""UPDATE outbox o SET updated_at = %(now)s, claimed_until = NULL,
    status = CASE WHEN status = 'pending' THEN 'failed' ELSE 'unknown' END,
    last_error = jsonb_build_object('kind', 'NotSendable', 'message', COALESCE(
        %(reasons)s::jsonb ->> provider, 'no sender is configured for ' || provider))
    WHERE id IN (SELECT id FROM outbox WHERE status IN ('pending', 'unconfirmed')
                 AND next_attempt_at <= %(now)s AND provider <> ALL(%(providers)s)
                 ORDER BY id LIMIT {SWEEP_LIMIT} FOR UPDATE SKIP LOCKED)
    RETURNING {ROW_COLUMNS}, status"""
_FAILED_BY_STATUS = f"""UPDATE outbox SET tell_desk = false
    WHERE id IN (SELECT id FROM outbox WHERE tell_desk ORDER BY id LIMIT {SWEEP_LIMIT}
                 FOR UPDATE SKIP LOCKED)
    RETURNING {ROW_COLUMNS}, last_error"""
_BACKLOG = """SELECT
    (SELECT count(*) FROM outbox WHERE status IN ('failed', 'dead') AND kind <> 'read_receipt'
        AND updated_at >= %(since)s) AS failed_24h,
    (SELECT count(*) FROM outbox WHERE status = 'unknown' AND kind <> 'read_receipt'
        AND updated_at >= %(since)s) AS unknown_24h,
    (SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending', 'unconfirmed')) AS pending,
    (SELECT min(created_at) FROM outbox WHERE status IN ('pending', 'sending', 'unconfirmed'))
        AS oldest_pending_at"""


async def take_unsendable(conn: Conn, providers: Sequence[str],
                          now: datetime) -> list[dict]:
    """Fail (or, if they may have gone, mark unknown) the due rows of providers this worker
    has no sender for; returns them, with their new status, for the desk."""
    return await (await conn.execute(_UNSENDABLE, {
        "now": now, "providers": list(providers), "reasons": json.dumps(NO_SENDER)})).fetchall()


def unsendable_reason(row: Mapping[str, Any]) -> str:
    """Why a queued message cannot be sent: no sender for its provider."""
    return f"not sent: {no_sender_reason(row['provider'])}"


async def take_failed_by_status(conn: Conn) -> list[dict]:
    """Rows a status webhook failed that the desk has not heard of yet (they are now marked
    told: the caller tells the desk in the same transaction)."""
    return await (await conn.execute(_FAILED_BY_STATUS)).fetchall()


def status_reason(row: Mapping[str, Any]) -> str:
    """"Twilio reported it failed: 63016 Outside the allowed window" from the row's errors (or,
    for a row refused because its customer opted out, that)."""
    errors = row.get("last_error")
    if opt_out.is_refusal(errors):
        return f"not sent: {opt_out.ERROR['message']}"
    errors = errors if isinstance(errors, list) else [errors] if isinstance(errors, dict) else []
    said = "; ".join(" ".join(str(part) for part in (
        e.get("code"), e.get("title") or e.get("message")) if part) for e in errors
        if isinstance(e, Mapping))
    who = PROVIDER_NAMES.get(row["provider"], row["provider"])
    return f"{who} reported it failed" + (f": {said[:300]}" if said else " (no reason given)")


async def backlog(conn: Conn, now: datetime) -> dict[str, Any]:
    """What /readyz shows of the outbox: messages failed or unknown in the last 24 hours (read
    receipts aside), and the rows not settled yet ('pending': waiting, being sent, or waiting
    for a status) with the age of the oldest."""
    row = required(await (await conn.execute(_BACKLOG, {"since": now - timedelta(hours=24)})).fetchone())
    oldest = row["oldest_pending_at"]
    return {"failed_24h": row["failed_24h"], "unknown_24h": row["unknown_24h"],
            "pending": row["pending"],
            "oldest_pending_s": round(max(0.0, (now - oldest).total_seconds()), 1) if oldest else 0}
