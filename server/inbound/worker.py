"""The turn worker: takes due conversations and runs their turns, many at once.

Any number of worker processes can run against the same Redis and Postgres, each running up
to `worker.concurrency` turns concurrently, so a slow model call holds one slot and delays
no other conversation. A conversation is run by one worker at a time (the scheduler's lease,
renewed by one heartbeat for all of a worker's turns); the commit is fenced, so a worker that
lost its lease commits nothing; and a turn has a key, so re-running it after a crash
continues the same LangGraph run and enqueues replies under the same idempotency keys.

Every turn commits, in one transaction, its replies (or handoff), its messages settled and a
turn record saying how it ended: that record, not LangGraph's progress, is what says a turn
is finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from graph.base.settings import Settings
from graph.base.sql import Conn, Pool
from graph.window import CUSTOMER_WINDOW
from server import outbox
from server.availability import OUTAGES, Availability
from server.conversation_ids import for_log
from server.conversations import Conversations, Turn
from server.desk.desk import Desk
from server.desk.states import HUMAN_STATES
from server.idle import idle
from server.inbound import inbox, late_messages
from server.inbound.inbox import StoredMessage
from server.inbound.scheduler import Lease, Scheduler, next_fences, take_fence
from server.media import jobs as media_jobs

log = logging.getLogger(__name__)
TAKE_AT_ONCE = 8
"""Conversations one poll takes at most (it polls again at once while more are due)."""
GIVE_UP_AFTER = 3
"""Failed attempts at one conversation's turn before it is handed to a human instead."""


class LostLease(RuntimeError):
    """Another worker took the conversation over; this worker's turn must not commit."""


class TurnWorker:
    """Runs conversations' turns: takes due conversations, leases them, runs the graph and
    commits once."""

    def __init__(self, pool: Pool, scheduler: Scheduler,
                 conversations: Conversations, settings: Settings, desk: Desk | None = None,
                 *, concurrency: int | None = None, committed: Callable[[], None] | None = None):
        self.pool, self.scheduler, self.conversations, self.settings = (
            pool, scheduler, conversations, settings)
        self.desk = desk
        self.concurrency = concurrency or settings.worker.concurrency
        self.committed = committed
        """Called after a turn queued replies (the outbox sender in this process looks at once)."""
        self.running: dict[str, tuple[Lease, asyncio.Task]] = {}
        self.availability = Availability(log, "turn worker")
        self._failures: dict[str, int] = {}
        self._lost: set[str] = set()
        self._freed = asyncio.Event()
        self._swept_at, self._reaped_at = 0.0, 0.0
        self._sweep_all = True  # at start: whatever was pending while no worker ran

    # --- The loop ---------------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event, idle_s: float = 0.05,
                          sweep_every_s: float = 30.0, drain_s: float = 4.0) -> None:
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            while not stop.is_set():
                pause = idle_s
                try:
                    await self._housekeeping(sweep_every_s)
                    if await self._start_due() and len(self.running) < self.concurrency:
                        pause = 0  # more may be due right now
                    if self.availability.ok():
                        self._sweep_all = True  # Redis may have come back empty
                except OUTAGES as error:
                    pause = self.availability.failed(error)
                except Exception:  # a bug: one traceback, then the loop goes on
                    log.exception("turn worker iteration failed")
                    pause = 1.0
                await self._wait(stop, pause)
        finally:
            heartbeat.cancel()
            await self._drain(drain_s)

    async def run_once(self, now: float | None = None) -> int:
        """Run every conversation due now (up to the concurrency), concurrently; returns how many."""
        taken = await self.scheduler.take(self._fences, self.concurrency, now)
        tasks = [self._spawn(lease) for lease in taken.leases]
        await asyncio.gather(*tasks, return_exceptions=True)
        return len(tasks)

    async def _start_due(self) -> int:
        # A few at a time: a busy process comes back for more less often than an idle one, so
        # processes sharing a backlog share it by how much they can take on.
        free = min(self.concurrency - len(self.running), TAKE_AT_ONCE)
        if free <= 0:
            return 0
        taken = await self.scheduler.take(self._fences, free)
        if taken.lost_data:
            log.info("Redis holds no schedule yet (new, or restarted without its data):"
                     " rescheduling unanswered messages from Postgres")
            self._sweep_all = True
        for lease in taken.leases:
            self._spawn(lease)
        return len(taken.leases)

    async def _fences(self, n: int) -> list[int]:
        async with self.pool.connection() as conn:
            return await next_fences(conn, n)

    def _spawn(self, lease: Lease) -> asyncio.Task:
        key = lease.conversation_key
        task = asyncio.create_task(self._run_turn(lease), name=f"turn:{key}")
        self.running[key] = (lease, task)

        def done(_: asyncio.Task) -> None:
            self.running.pop(key, None)
            self._freed.set()
        task.add_done_callback(done)
        return task

    async def _wait(self, stop: asyncio.Event, pause: float) -> None:
        """Sleep `pause`, or until a slot frees up while all are busy, or until stopped."""
        self._freed.clear()
        await idle(pause, stop, *([self._freed] if len(self.running) >= self.concurrency else []))

    async def _drain(self, within_s: float) -> None:
        """On stop, let running turns finish for a while, then cancel them (they are re-run)."""
        tasks = [task for _, task in self.running.values()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=within_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _heartbeat(self) -> None:
        """Renew every lease this worker holds; cancel the turns whose lease was taken."""
        while True:
            await asyncio.sleep(self.scheduler.heartbeat_s)
            if not self.running:
                continue
            try:
                lost = await self.scheduler.renew([lease for lease, _ in self.running.values()])
            except OUTAGES:  # Redis is away: the turns go on, and the fence guards their commit
                continue
            for key in lost:
                if key in self.running:
                    self._lost.add(key)
                    self.running[key][1].cancel()

    async def _housekeeping(self, sweep_every_s: float) -> None:
        now = time.monotonic()
        if now - self._reaped_at > 1.0:
            self._reaped_at = now
            await self.scheduler.reap()
        if self._sweep_all or now - self._swept_at > sweep_every_s:
            everything, self._sweep_all, self._swept_at = self._sweep_all, False, now
            try:
                await self.sweep(everything=everything)
            except BaseException:
                self._sweep_all = self._sweep_all or everything  # try again next time
                raise

    async def sweep(self, everything: bool = False) -> int:
        """Reschedule conversations whose messages are stored but not due in Redis (Redis was
        down when they arrived, or lost its data). Postgres is the truth."""
        older_than = 0.0 if everything else max(2 * self.settings.debounce_s, self.scheduler.lease_ms / 1000)
        async with self.pool.connection() as conn:
            rows = await inbox.unscheduled(conn, older_than)
        rescheduled = await self.scheduler.reschedule(
            {row["conversation_key"]: row["last_at"] + self.settings.debounce_s for row in rows})
        if rescheduled:
            log.info("rescheduled %d conversation(s) with unanswered messages", rescheduled)
        if self.desk:
            await self._mark_dormant(self.desk)
        return rescheduled

    async def _mark_dormant(self, desk: Desk) -> None:
        """Bot conversations whose 24-hour window has lapsed become DORMANT (recorded)."""
        async with self.pool.connection() as conn, conn.transaction():
            lapsed = await (await conn.execute(
                "UPDATE desk_conversations SET state = 'DORMANT', updated_at = now() WHERE state = 'BOT'"
                " AND last_customer_at < now() - %s RETURNING key", (CUSTOMER_WINDOW,))).fetchall()
            for row in lapsed:
                await desk.event(conn, row["key"], "system", "transition", from_state="BOT",
                                 to_state="DORMANT", reason="24-hour window lapsed")

    # --- One conversation's turn ------------------------------------------------------------

    async def _run_turn(self, lease: Lease) -> None:
        key = lease.conversation_key
        retry_in: float | None = 0.0  # None: finished, or another worker's now
        try:
            await self.process(lease, give_up=self._failures.get(key, 0) >= GIVE_UP_AFTER)
            self._failures.pop(key, None)
            retry_in = None
        except asyncio.CancelledError:
            if key not in self._lost:
                raise  # stopping: due again at once, for whichever worker comes next
            log.warning("lost the lease on %s mid-turn; its new owner finishes the turn", for_log(key))
            retry_in = None
        except LostLease:
            log.warning("lost the lease on %s; its new owner finishes the turn", for_log(key))
            retry_in = None
        except OUTAGES as error:  # logged once per outage by the loop's tracker
            retry_in = max(1.0, self.availability.failed(error))
        except Exception:  # a bug or bad data: retried, then handed to a human
            failures = self._failures[key] = self._failures.get(key, 0) + 1
            retry_in = min(60.0, 2.0 ** failures)
            if failures == 1:
                log.exception("turn for %s failed; retrying in %.0f s", for_log(key), retry_in)
            else:
                log.warning("turn for %s failed again (attempt %d); %s", for_log(key), failures,
                            "handing it to a human" if failures >= GIVE_UP_AFTER
                            else f"retrying in {retry_in:.0f} s")
        finally:
            self._lost.discard(key)
            with contextlib.suppress(*OUTAGES):
                if retry_in is not None:
                    await self.scheduler.mark_due(key, time.time() + retry_in)
                await self.scheduler.finish(lease)

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

    async def process(self, lease: Lease, give_up: bool = False) -> None:
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
