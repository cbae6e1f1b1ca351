"""The opt-out rule of the one delivery path: nothing goes to a customer who opted out (STOP)
except the confirmation of their STOP or START itself (rows marked `consent_notice`) and read
receipts, which are no message.

Applied three times, so no path can slip past it: `enqueue_reply` fails a new row at once
when the customer is opted out; the STOP's own transaction fails what was queued before it
(`refuse`); and the sender claims no row of an opted-out customer (`SENDABLE`), while its
settle pass fails any row queued by a transaction that raced the STOP. A refused row ends
'failed' with the code 'opted_out' and is marked for the desk (`tell_desk`), so agents see it
in the conversation's events and the delivery problems queue: never silently dropped.
"""

from __future__ import annotations

import json
from datetime import datetime

from graph.base.sql import Conn
from server.consent.store import opted_out_sql

OPTED_OUT = "opted_out"
"""The error code of a message not sent because its customer opted out."""
ERROR = {"code": OPTED_OUT, "kind": "OptedOut",
         "message": "the customer opted out (STOP); they can reply START to get messages again"}
EXEMPT = "(o.consent_notice OR o.kind = 'read_receipt')"
SENDABLE = f"({EXEMPT} OR NOT {opted_out_sql('o.conversation_key')})"
"""For the sender's claim (server/outbox/worker.py): a row it may send as far as consent goes."""

_REFUSE = f"""UPDATE outbox SET status = 'failed', updated_at = %(now)s, claimed_until = NULL,
    last_error = %(error)s::jsonb, tell_desk = true
    WHERE id IN (SELECT o.id FROM outbox o WHERE o.status IN ('pending', 'unconfirmed')
                 AND (%(key)s::text IS NULL OR o.conversation_key = %(key)s) AND NOT {EXEMPT}
                 AND {opted_out_sql('o.conversation_key')} ORDER BY o.id FOR UPDATE SKIP LOCKED)
    RETURNING id"""


async def refuse(conn: Conn, now: datetime, key: str | None = None) -> list[int]:
    """Fail the open rows of opted-out customers (only `key`'s, when given) with code
    'opted_out', for the desk to be told; returns their ids. A row in flight ('sending') is
    left to finish: its call may already have been made. An 'unconfirmed' row is not sent
    again (its first call may or may not have reached the customer)."""
    rows = await (await conn.execute(_REFUSE, {
        "now": now, "key": key, "error": json.dumps(ERROR)})).fetchall()
    return [r["id"] if isinstance(r, dict) else r[0] for r in rows]


def is_refusal(error: object) -> bool:
    """Whether a row's last_error says it was refused for an opt-out (problems.status_reason)."""
    return isinstance(error, dict) and error.get("code") == OPTED_OUT
