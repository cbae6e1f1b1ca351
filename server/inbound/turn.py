"""One conversation's turn: read its messages, run the graph, commit once.

Every turn commits, in one transaction, its replies (or handoff), its messages settled and a
turn record saying how it ended: that record, not LangGraph's progress, is what says a turn
is finished. The commit is fenced, so a worker that lost its lease commits nothing; and a
turn has a key, so re-running it after a crash continues the same LangGraph run and enqueues
replies under the same idempotency keys.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from graph.base.settings import Settings
from graph.base.sql import Conn, Pool
from server import outbox
from server.conversation_ids import for_log
from server.conversations import Conversations, Turn
from server.desk.desk import Desk
from server.desk.states import HUMAN_STATES
from server.inbound import inbox, late_messages
from server.inbound.inbox import StoredMessage
from server.inbound.scheduler import Lease, Scheduler, take_fence
from server.media import jobs as media_jobs

log = logging.getLogger(__name__)
GIVE_UP_AFTER = 3
"""Failed attempts at one conversation's turn before it is handed to a human instead."""


class LostLease(RuntimeError):
    """Another worker took the conversation over; this worker's turn must not commit."""


class TurnRunner:
    """Runs one leased conversation's turn from its stored messages to its commit."""

    def __init__(self, pool: Pool, scheduler: Scheduler, conversations: Conversations,
                 settings: Settings, desk: Desk | None = None,
                 committed: Callable[[], None] | None = None):
        self.pool, self.scheduler, self.conversations, self.settings = (
            pool, scheduler, conversations, settings)
        self.desk = desk
        self.committed = committed
        """Called after a turn queued replies (the outbox sender in this process looks at once)."""

    async def _awaiting_voice(self, conn: Conn, key: str) -> bool:
        """A voice note of this conversation is still being transcribed: its turn waits for the
        words (at most MEDIA__TRANSCRIPT_WAIT_S; the fetcher makes it due when done). Asked
        before the messages are read, so the turn reads the transcript, not the placeholder."""
        wait_s = self.settings.media.transcript_wait_s
        if not (self.settings.transcribe.model and wait_s) or not await media_jobs.awaiting_transcript(
                conn, key, wait_s):
            return False
        await self.scheduler.mark_due(key, time.time() + 0.5)
        return True

    async def run(self, lease: Lease, give_up: bool = False) -> None:
        """Run the leased conversation's turn: a crashed turn first, else its new messages."""
        key = lease.conversation_key
        desk = self.desk
        if desk:
            await self._pause_if_taken_over(desk, key)
        async with self.pool.connection() as conn:
            if await self._awaiting_voice(conn, key):
                return
            rows = await inbox.unfinished(conn, key)
            crashed = [r for r in rows if r.state == "in_turn"]
            if crashed:  # a worker died mid-turn: finish exactly that turn first
                batch = [r for r in crashed if r.turn_key == crashed[0].turn_key]
                if len(batch) < len(rows):  # newer messages wait for the next turn
                    await self.scheduler.mark_due(key, time.time())
                if await inbox.turn_recorded(conn, _turn_key(batch)):
                    await inbox.settle(conn, batch, "done")
                    return
            else:
                batch = await self._start_turn(conn, rows, lease, datetime.now(UTC))
                if not batch:
                    return
        turn_key, customer = _turn_key(batch), batch[0]
        phone, now = customer.phone or key, datetime.now(UTC)
        if give_up:
            log.error("turn of %s (fence %s) failed %d times; handing the conversation to a human",
                      for_log(key), lease.fence, GIVE_UP_AFTER)
            turn = await self.conversations.give_up(phone, [r.body for r in batch], turn_key,
                                                    "turn_failed")
        elif late_messages.is_late(batch, now, self.settings.stale_message_age_s):
            log.info("%d late message(s) for %s: handing them to a human", len(batch), for_log(key))
            turn = await late_messages.hand_over(self.conversations, self.desk, phone=phone,
                                                 batch=batch, turn_key=turn_key, now=now)
        else:
            should_yield = partial(desk.human_owns, key) if desk else None
            turn = await self.conversations.handle(phone, *[r.body for r in batch],
                                                   turn_key=turn_key, should_yield=should_yield)
        await self._commit(lease, turn, batch, phone)

    async def _commit(self, lease: Lease, turn: Turn, batch: list[StoredMessage], phone: str) -> None:
        key, customer, turn_key = lease.conversation_key, batch[0], _turn_key(batch)
        async with self.pool.connection() as conn, conn.transaction():
            if not await take_fence(conn, key, lease.fence):
                raise LostLease(key)
            outcome = turn.outcome
            if self.desk and not await self._desk_allows(self.desk, conn, turn, batch, key, phone):
                turn.replies = []  # a human owns it now: the bot's reply is discarded (recorded)
                outcome = ("silent", "human_owns" if turn.held else "human_took_over")
            if turn.replies:
                await outbox.enqueue_reply(
                    conn, conversation_key=key, recipient=phone, provider=customer.provider,
                    # One WhatsApp message per turn, however many texts the graph produced.
                    texts=["\n\n".join(turn.replies)], idempotency_key=turn_key,
                    last_customer_at=late_messages.window_from(turn, batch), now=datetime.now(UTC),
                    window_template={"name": self.settings.reengagement_template,
                                     "language": self.settings.template_language})
            await inbox.record_turn(conn, turn_key=turn_key, conversation_key=key,
                                    outcome=outcome[0], reason=outcome[1], messages=len(batch),
                                    replies=len(turn.replies))
            await inbox.settle(conn, batch, "done")
        if turn.replies and self.committed:
            self.committed()

    async def _pause_if_taken_over(self, desk: Desk, key: str) -> None:
        """A human took the conversation over in the console: pause its graph (under this
        worker's lease, so no bot turn runs at the same time)."""
        async with self.pool.connection() as conn:
            row = await desk.row(conn, key)
        if row and row["state"] in HUMAN_STATES:
            await self.conversations.take_over(row["phone"] or key, "agent_takeover",
                                               agent=row["assigned_agent"])

    async def _desk_allows(self, desk: Desk, conn: Conn, turn: Turn, batch: list[StoredMessage],
                           key: str, phone: str) -> bool:
        """Under the desk row's lock: may this turn's bot replies go out? Records the handoff."""
        now = datetime.now(UTC)
        row = await desk.lock(conn, key)
        human = bool(row and row["state"] in HUMAN_STATES)
        if turn.held:
            if not human:  # paused for a human the desk does not know of: queue it now
                if turn.handoff is None:  # a held turn is a paused graph, which has its payload
                    raise RuntimeError("a held turn without its handoff payload")
                await desk.open_handoff(conn, key=key, phone=phone, provider=batch[0].provider,
                                        payload=turn.handoff, now=now)
            await desk.note_customer(conn, key, [r.body for r in batch], now)
            if late_messages.is_late_turn(turn):  # one handoff, one apology
                await late_messages.record(conn, desk, key=key, before=row, batch=batch,
                                           turn=turn, now=now, opened=not human)
                return bool(turn.replies) and not human
            return bool(turn.replies)  # a turn the bot gave up on tells the customer
        if human:
            await desk.event(conn, key, "bot", "discarded_bot_reply",
                             payload={"replies": turn.replies, "turn_key": batch[0].turn_key})
            return False
        reopens = not turn.rating  # a rating answers the resolve; it does not reopen
        if row and row["state"] in ("CLOSED", "DORMANT") and reopens:
            await desk.event(conn, key, "customer", "transition", from_state=row["state"],
                             to_state="BOT", reason="customer wrote again")
        if turn.handoff:
            await desk.open_handoff(conn, key=key, phone=phone, provider=batch[0].provider,
                                    payload=turn.handoff, now=now)
        else:
            await conn.execute(
                "INSERT INTO desk_conversations (key, phone, provider, last_customer_at) VALUES"
                " (%s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET last_customer_at ="
                " excluded.last_customer_at, updated_at = now(), state = CASE WHEN %s AND"
                " desk_conversations.state IN ('CLOSED', 'DORMANT') THEN 'BOT' ELSE"
                " desk_conversations.state END", (key, phone, batch[0].provider,
                                                 max(r.sent_at for r in batch), reopens))
        return True

    async def _start_turn(self, conn, rows: list[StoredMessage], lease: Lease,
                          now: datetime) -> list[StoredMessage]:
        """Settle what needs no turn, then claim the rest under a new turn key (late messages
        too: they go to a human, see server/inbound/late_messages.py)."""
        oldest = late_messages.oldest_allowed(now, self.settings.stale_message_age_s)
        stale = [r for r in rows if r.sent_at < oldest and not r.needs_turn]
        quiet = [r for r in rows if r.sent_at >= oldest and not r.needs_turn]
        batch = [r for r in rows if r.needs_turn]
        turn_key = f"{lease.conversation_key}:{lease.fence}"
        # Each statement stands alone: a crash between them leaves nothing a re-run cannot
        # finish (claimed messages are the crashed turn's; the read receipt is cosmetic).
        if stale:
            log.info("recording %d stale message(s) that need no reply for %s", len(stale),
                     for_log(lease.conversation_key))
            await inbox.settle(conn, stale, "stale")
        await inbox.settle(conn, quiet, "skipped")
        if batch:
            await inbox.claim(conn, [r.id for r in batch], turn_key)
            # Read receipt and typing indicator as the turn starts.
            await outbox.enqueue_read_receipt(
                conn, provider=batch[-1].provider, recipient=batch[-1].phone or lease.conversation_key,
                inbound_message_id=batch[-1].provider_message_id,
                conversation_key=lease.conversation_key)
        return [StoredMessage(**{**r.__dict__, "state": "in_turn", "turn_key": turn_key}) for r in batch]


def _turn_key(batch: list[StoredMessage]) -> str:
    """The key of the turn a claimed batch belongs to (inbox.claim sets it on every message)."""
    turn_key = batch[0].turn_key
    if turn_key is None:
        raise RuntimeError("a claimed message has no turn key")
    return turn_key
