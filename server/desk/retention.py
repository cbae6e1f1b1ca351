"""Retention on the desk's tables (`switchboard prune`, server/privacy/prune.py): what agents
and customers wrote is blanked once older than the message-text period; the events, their
kinds, actors and times stay for reports. And which conversations a human still owns, whose
LangGraph threads must survive however idle (their hand-back resumes them)."""

from __future__ import annotations

from datetime import datetime

from graph.base.sql import Conn
from server.desk.states import HUMAN_STATES

TEXT_KEYS = ["text", "notes", "replies", "summary"]
"""Payload keys of desk events that hold written text (customer and agent messages, notes,
hand-back notes, discarded bot replies)."""
_OLD_TEXT = "at < %s AND payload ?| %s"
_OLD_SUMMARY = ("updated_at < %s AND NOT state = ANY(%s) AND (summary IS NOT NULL"
                " OR customer_name IS NOT NULL OR handoff IS NOT NULL)")
_HUMAN = [str(state) for state in HUMAN_STATES]


async def blank_text(conn: Conn, cutoff: datetime, *, dry_run: bool) -> int:
    """Blank the text of desk events, and the handoff summary and customer name of
    conversations no human owns, older than the cutoff. Returns the rows (to be) changed."""
    summary = _OLD_SUMMARY
    if dry_run:
        events = await (await conn.execute(
            f"SELECT count(*) AS n FROM desk_events WHERE {_OLD_TEXT}", (cutoff, TEXT_KEYS))).fetchone()
        rows = await (await conn.execute(
            f"SELECT count(*) AS n FROM desk_conversations WHERE {summary}", (cutoff, _HUMAN))).fetchone()
        return int(events["n"] if events else 0) + int(rows["n"] if rows else 0)
    events_cursor = await conn.execute(
        f"UPDATE desk_events SET payload = payload - %s::text[] WHERE {_OLD_TEXT}",
        (TEXT_KEYS, cutoff, TEXT_KEYS))
    rows_cursor = await conn.execute(
        "UPDATE desk_conversations SET summary = NULL, customer_name = NULL, handoff = NULL"
        f" WHERE {summary}", (cutoff, _HUMAN))
    return events_cursor.rowcount + rows_cursor.rowcount


async def human_owned_refs(conn: Conn) -> set[str]:
    """Opaque refs of conversations a human owns (or is asked to take) right now."""
    rows = await (await conn.execute(
        "SELECT ref FROM desk_conversations WHERE state = ANY(%s) OR handback IS NOT NULL",
        (_HUMAN,))).fetchall()
    return {row["ref"] for row in rows if row["ref"]}
