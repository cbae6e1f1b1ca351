"""The bot's side of the desk row: what a turn's commit may do, and the sweep of lapsed bot
conversations. The rule "the desk row is the authority" is applied here, under the row lock
taken in the turn's own transaction, so once a human owns a conversation no bot text can be
committed after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from graph.base.sql import Conn
from graph.window import CUSTOMER_WINDOW
from server.conversations import Turn
from server.desk.states import HUMAN_STATES, DeskState
from server.inbound import late_messages
from server.inbound.inbox import StoredMessage

if TYPE_CHECKING:
    from server.desk.desk import Desk

REOPENED_FROM = (DeskState.CLOSED, DeskState.DORMANT)
"""States a customer's new message moves back to BOT."""


async def commit_turn(desk: Desk, conn: Conn, turn: Turn, batch: Sequence[StoredMessage], *,
                      key: str, phone: str | None) -> bool:
    """In the turn's transaction, under the desk row's lock: may this turn's bot replies go
    out? While a human owns the conversation no bot text does (a reply is recorded as
    discarded); a handoff opens the row (PENDING_AGENT); a held turn's messages are noted for
    the agents (the one place held messages are stored, as 'customer_message' events)."""
    now = datetime.now(UTC)
    row = await desk.lock(conn, key)
    human = bool(row and row["state"] in HUMAN_STATES)
    if turn.held:
        return await _held(desk, conn, turn, batch, row, key=key, phone=phone, now=now)
    if human:
        await _discard(desk, conn, key, turn, batch)
        return False
    reopens = not turn.rating  # a rating answers the resolve; it does not reopen
    if row and row["state"] in REOPENED_FROM and reopens:
        await desk.event(conn, key, "customer", "transition", from_state=row["state"],
                         to_state=DeskState.BOT, reason="customer wrote again")
    if turn.handoff:
        await desk.open_handoff(conn, key=key, phone=phone, provider=batch[0].provider,
                                payload=turn.handoff, now=now,
                                turn=turn.state.get("turn"))
    else:
        await conn.execute(
            "INSERT INTO desk_conversations (key, phone, provider, last_customer_at) VALUES"
            " (%s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET last_customer_at ="
            " excluded.last_customer_at, updated_at = now(), state = CASE WHEN %s AND"
            " desk_conversations.state = ANY(%s) THEN %s ELSE desk_conversations.state END",
            (key, phone, batch[0].provider, max(r.sent_at for r in batch), reopens,
             list(REOPENED_FROM), DeskState.BOT))
    return True


async def _held(desk: Desk, conn: Conn, turn: Turn, batch: Sequence[StoredMessage],
                row: dict[str, Any] | None, *, key: str, phone: str | None, now: datetime) -> bool:
    """A turn of a graph paused for a human: its messages wait for the human. Only a turn the
    bot gave up on, with no human owner yet, tells the customer (one handoff, one apology)."""
    human = bool(row and row["state"] in HUMAN_STATES)
    if not human:
        if row and row.get("handback") and not turn.replies:
            # Handed back while this turn ran: the graph is resumed under the next lease, and
            # these messages are part of the exchange it is given (no new handoff).
            await desk.note_customer(conn, key, [r.body for r in batch], now)
            await desk.wake(key)
            return False
        if turn.handoff is None:  # a held turn is a paused graph, which has its payload
            raise RuntimeError("a held turn without its handoff payload")
        # Paused for a human the desk does not know of: queue it now.
        await desk.open_handoff(conn, key=key, phone=phone, provider=batch[0].provider,
                                payload=turn.handoff, now=now,
                                turn=turn.state.get("turn"))
    await desk.note_customer(conn, key, [r.body for r in batch], now)
    if late_messages.is_late_turn(turn):
        await late_messages.record(conn, desk, key=key, before=row, batch=batch,
                                   turn=turn, now=now, opened=not human)
    elif human and turn.replies:  # e.g. the safe fallback of a turn that failed: not sent
        await _discard(desk, conn, key, turn, batch)
    return bool(turn.replies) and not human


async def _discard(desk: Desk, conn: Conn, key: str, turn: Turn,
                   batch: Sequence[StoredMessage]) -> None:
    await desk.event(conn, key, "bot", "discarded_bot_reply",
                     payload={"replies": turn.replies, "turn_key": batch[0].turn_key})


async def mark_dormant(desk: Desk) -> int:
    """Bot conversations whose 24-hour window has lapsed become DORMANT (recorded); returns
    how many."""
    async with desk.pool.connection() as conn, conn.transaction():
        lapsed = await (await conn.execute(
            "UPDATE desk_conversations SET state = %s, updated_at = now() WHERE state = %s"
            " AND last_customer_at < now() - %s RETURNING key",
            (DeskState.DORMANT, DeskState.BOT, CUSTOMER_WINDOW))).fetchall()
        for row in lapsed:
            await desk.event(conn, row["key"], "system", "transition", from_state=DeskState.BOT,
                             to_state=DeskState.DORMANT, reason="24-hour window lapsed")
    return len(lapsed)


async def set_last_customer_at(conn: Conn, key: str, at: datetime) -> None:
    """When the customer really last wrote (a late message's own time, not its arrival)."""
    await conn.execute("UPDATE desk_conversations SET last_customer_at = %s WHERE key = %s",
                       (at, key))
