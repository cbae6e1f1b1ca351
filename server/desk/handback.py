"""Making the graph follow the desk row, under the conversation's lease.

The console changes the desk row (under its lock); it never runs the graph itself. A take-over
leaves the row in a human state, a hand-back (return to the bot, resolve) leaves the row BOT or
CLOSED with the hand-back waiting in `desk_conversations.handback`. Either way the desk wakes the
conversation, and the turn worker that leases it calls `follow` before anything else: it pauses
the graph for the human, or resumes it with the human's outcome (`Conversations.resume`). So
the graph is only ever run by the one worker holding the lease, and a hand-back, recorded in
Postgres, survives a crash or a lost Redis entry (the sweep wakes it again).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING

from graph.base.conversation import ConversationId
from graph.base.sql import Conn
from server.conversation_ids import for_log
from server.desk import events
from server.desk.states import HUMAN_STATES, HandbackAction

if TYPE_CHECKING:
    from server.desk.desk import Desk

log = logging.getLogger(__name__)


async def record(conn: Conn, key: str, *, event_id: int, action: HandbackAction, agent_id: str,
                 notes: str) -> None:
    """Keep the hand-back on the desk row (in the caller's transaction, under the row lock) for
    the turn worker to resume the graph with; a newer hand-back replaces an unapplied one."""
    await conn.execute("UPDATE desk_conversations SET handback = %s WHERE key = %s", (json.dumps(
        {"event_id": event_id, "action": action, "agent": agent_id, "notes": notes}), key))


async def follow(desk: Desk, key: str) -> None:
    """Under the caller's lease: bring the graph in line with the desk row. A human owner
    pauses it (as if the bot had handed off); a waiting hand-back resumes it, with what the
    customer and agents said since the handoff, and is then cleared."""
    async with desk.pool.connection() as conn:
        row = await desk.row(conn, key)
    if row is None:
        return
    conversation, handback = ConversationId(key), row.get("handback")
    if row["state"] in HUMAN_STATES:
        await desk.conversations.take_over(conversation, "agent_takeover",
                                           agent=row["assigned_agent"])
        if handback:  # taken again before the hand-back was applied: it no longer stands
            async with desk.pool.connection() as conn:
                await _clear(conn, key, handback["event_id"])
        return
    if not handback:
        return
    async with desk.pool.connection() as conn:
        exchange = await events.exchange_since_handoff(conn, key)
    try:
        await desk.conversations.resume(conversation, {
            "action": handback["action"], "agent": handback["agent"],
            "notes": handback["notes"], "exchange": exchange})
    except LookupError:  # taken over and handed back before a worker paused the graph
        log.info("hand-back of %s: the graph was not paused; nothing to resume", for_log(key))
    async with desk.pool.connection() as conn:
        await _clear(conn, key, handback["event_id"])


async def _clear(conn: Conn, key: str, event_id: int) -> None:
    """Clear the hand-back just applied (not a newer one recorded meanwhile)."""
    await conn.execute("UPDATE desk_conversations SET handback = NULL WHERE key = %s"
                       " AND (handback->>'event_id')::bigint = %s", (key, event_id))


async def applied(desk: Desk, key: str, timeout_s: float) -> bool:
    """Wait (up to `timeout_s`) until no hand-back waits on the row: the console's answer then
    shows the resumed conversation. False on timeout (it is still applied, later)."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with desk.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT handback IS NULL AS done FROM desk_conversations WHERE key = %s",
                (key,))).fetchone()
        if row is None or row["done"]:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)


async def wake_waiting(desk: Desk) -> int:
    """Wake every conversation with a hand-back still waiting (its due entry may have been lost
    with Redis); returns how many."""
    async with desk.pool.connection() as conn:
        rows = await (await conn.execute(
            "SELECT key FROM desk_conversations WHERE handback IS NOT NULL")).fetchall()
    for row in rows:
        await desk.wake(row["key"])
    return len(rows)
