"""Erasure of one customer from the desk's tables (`switchboard forget`, server/privacy/):
the conversation row, its event log (messages, notes, transitions) and CSAT requests. Only
the desk touches its tables; server/privacy/data_map.py lists these operations beside the
other tables'. Agents, sessions and login records are the business's staff, not customers."""

from __future__ import annotations

from graph.base.sql import Conn

_KEY_COLUMN = {"desk_conversations": "key", "desk_events": "conversation_key",
               "desk_csat": "conversation_key"}
TABLES = tuple(_KEY_COLUMN)
"""The desk tables that hold a customer's data, each keyed by conversation key."""


async def key_of_ref(conn: Conn, ref: str) -> str | None:
    """The conversation key behind an opaque ref, if the desk has that conversation."""
    row = await (await conn.execute(
        "SELECT key FROM desk_conversations WHERE ref = %s", (ref,))).fetchone()
    return row["key"] if row else None


async def count(conn: Conn, table: str, keys: list[str]) -> int:
    """The rows of these conversations in one of TABLES."""
    row = await (await conn.execute(
        f"SELECT count(*) AS n FROM {table} WHERE {_KEY_COLUMN[table]} = ANY(%s)", (keys,))).fetchone()
    return int(row["n"]) if row else 0


async def erase(conn: Conn, table: str, keys: list[str]) -> int:
    """Delete the rows of these conversations from one of TABLES; returns how many."""
    cursor = await conn.execute(
        f"DELETE FROM {table} WHERE {_KEY_COLUMN[table]} = ANY(%s)", (keys,))
    return cursor.rowcount
