"""Each customer's consent, and whether the business has identified itself to them: the one
module that reads and writes `customer_consent` (server/migrations/0009_customer_consent.sql).

One row per conversation key (the number's digits or "bsuid:..."):
- status 'opted_in' (the customer wrote to us, or sent START), 'opted_out' (STOP), or
  'unknown' (a row made only to note the business's first identification);
- opted_in_at / opted_in_source: the opt-in in force. The first is the customer's first
  message ('customer_initiated': a customer who writes first has asked for replies); a
  re-opt-in (START after STOP: 'keyword'; an agent or the CLI: 'agent', 'cli') replaces both,
  and every earlier one stays in the audit trail;
- opted_out_at / opted_out_source: the latest opt-out;
- identified_at: when the business first said who it is (server/consent/first_contact.py).

Every change, and every repeated keyword that changes nothing, is an audit event (kinds
opt_in / opt_out, named by the conversation's opaque ref) in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graph.base.audit import AuditEvent, AuditKind, record
from graph.base.sql import Conn
from server.conversation_ids import ref

CUSTOMER_INITIATED = "customer_initiated"
"""Opt-in source of a customer's first message."""
KEYWORD = "keyword"
"""Source of an opt-in or opt-out sent as a keyword (STOP, START and equivalents)."""
SOURCES = frozenset({CUSTOMER_INITIATED, KEYWORD, "agent", "cli"})


def opted_out_sql(key_column: str) -> str:
    """SQL that is true when the conversation named by `key_column` has opted out: for the
    outbox's claim and sweep (server/outbox/opt_out.py), which must not send to it."""
    return (f"EXISTS (SELECT 1 FROM customer_consent cc WHERE cc.conversation_key = {key_column}"
            " AND cc.status = 'opted_out')")


async def status_of(conn: Conn, key: str) -> dict[str, Any] | None:
    """The conversation's consent row (status, times, sources, identified_at), or None."""
    return await (await conn.execute(
        "SELECT status, opted_in_at, opted_in_source, opted_out_at, opted_out_source,"
        " identified_at, updated_at FROM customer_consent WHERE conversation_key = %s",
        (key,))).fetchone()


async def is_opted_out(conn: Conn, key: str) -> bool:
    """Whether the customer has opted out (STOP) and not back in."""
    row = await status_of(conn, key)
    return bool(row and row["status"] == "opted_out")


async def _audit(conn: Conn, kind: AuditKind, key: str, *, actor: str, source: str,
                 keyword: str | None, reason: str | None, at: datetime | None) -> None:
    await record(conn, AuditEvent(kind=kind, actor=actor, conversation_ref=ref(key), at=at,
                                  reason=reason, payload={"source": source, "keyword": keyword}))


async def note_inbound(conn: Conn, key: str, at: datetime) -> dict[str, Any]:
    """A customer message in a turn's commit: their first one records an opt-in
    ('customer_initiated', at the message's time). Returns the row (status, identified_at)."""
    row = await status_of(conn, key)
    if row is not None and row["status"] != "unknown":
        return row
    await conn.execute(
        "INSERT INTO customer_consent (conversation_key, status, opted_in_at, opted_in_source,"
        " updated_at) VALUES (%s, 'opted_in', %s, %s, now()) ON CONFLICT (conversation_key)"
        " DO UPDATE SET status = 'opted_in', opted_in_at = excluded.opted_in_at,"
        " opted_in_source = excluded.opted_in_source, updated_at = now()"
        " WHERE customer_consent.status = 'unknown'", (key, at, CUSTOMER_INITIATED))
    await _audit(conn, AuditKind.OPT_IN, key, actor="customer", source=CUSTOMER_INITIATED,
                 keyword=None, reason="first message", at=at)
    return {**(row or {}), "status": "opted_in", "identified_at": (row or {}).get("identified_at")}


async def _set(conn: Conn, key: str, status: str, kind: AuditKind, *, source: str, actor: str,
               keyword: str | None, at: datetime | None) -> bool:
    """Set the customer's status ('opted_in' or 'opted_out', with its time and source) and
    record it; True when this changed it (a repeat is recorded all the same)."""
    changed = await (await conn.execute(
        f"INSERT INTO customer_consent (conversation_key, status, {status}_at, {status}_source,"
        " updated_at) VALUES (%s, %s, coalesce(%s, now()), %s, coalesce(%s, now()))"
        f" ON CONFLICT (conversation_key) DO UPDATE SET status = excluded.status,"
        f" {status}_at = excluded.{status}_at, {status}_source = excluded.{status}_source,"
        " updated_at = excluded.updated_at WHERE customer_consent.status <> excluded.status"
        " RETURNING 1", (key, status, at, _source(source), at))).fetchone() is not None
    await _audit(conn, kind, key, actor=actor, source=source, keyword=keyword,
                 reason=None if changed else f"already {status.replace('_', ' ')}", at=at)
    return changed


async def record_opt_out(conn: Conn, key: str, *, source: str, actor: str,
                         keyword: str | None = None, at: datetime | None = None) -> bool:
    """Opt the customer out; True when this changed their status (False: already out, and
    the repeat is only recorded)."""
    return await _set(conn, key, "opted_out", AuditKind.OPT_OUT, source=source, actor=actor,
                      keyword=keyword, at=at)


async def record_opt_in(conn: Conn, key: str, *, source: str, actor: str,
                        keyword: str | None = None, at: datetime | None = None) -> bool:
    """Opt the customer (back) in; True when this changed their status (False: they were in
    already; recorded all the same)."""
    return await _set(conn, key, "opted_in", AuditKind.OPT_IN, source=source, actor=actor,
                      keyword=keyword, at=at)


async def claim_identification(conn: Conn, key: str) -> bool:
    """Note that the business identifies itself to this customer now; True only for the first
    call ever (concurrent callers: exactly one), which is the one to say it."""
    return await (await conn.execute(
        "INSERT INTO customer_consent (conversation_key, status, identified_at, updated_at)"
        " VALUES (%s, 'unknown', now(), now()) ON CONFLICT (conversation_key) DO UPDATE"
        " SET identified_at = now(), updated_at = now()"
        " WHERE customer_consent.identified_at IS NULL RETURNING 1", (key,))).fetchone() is not None


def _source(source: str) -> str:
    if source not in SOURCES:
        raise ValueError(f"unknown consent source {source!r}: one of {sorted(SOURCES)}")
    return source
