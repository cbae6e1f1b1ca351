"""The turn worker: takes due conversations and runs their turns, many at once.

Any number of worker processes can run against the same Redis and Postgres, each running up
to `worker.concurrency` turns concurrently, so a slow model call holds one slot and delays
no other conversation. A conversation is run by one worker at a time (its lease, renewed by
one heartbeat for all of a worker's turns: server/inbound/lease.py); the commit is fenced, so a
worker that lost its lease commits nothing. One turn's work is in server/inbound/turn.py; the
loop itself is server/loop.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from graph.base.settings import Settings
from graph.base.sql import Pool
from server.availability import OUTAGES, Availability
from server.conversation_ids import for_log
from server.conversations import Conversations
from server.desk.desk import Desk
from server.inbound import inbox
from server.inbound.lease import Lease, LostLease, heartbeat, next_fences
from server.inbound.scheduler import Scheduler
from server.inbound.turn import GIVE_UP_AFTER, TurnRunner
from server.loop import run_until_stopped
from server.metrics import DUE_QUEUE_LAG

log = logging.getLogger(__name__)
TAKE_AT_ONCE = 8
"""Conversations one poll takes at most (it polls again at once while more are due)."""


class TurnWorker:
    """Runs conversations' turns: takes due conversations, leases them, runs the graph and
    commits once."""

    def __init__(self, pool: Pool, scheduler: Scheduler,
                 conversations: Conversations, settings: Settings, desk: Desk | None = None,
                 *, concurrency: int | None = None, committed: Callable[[], None] | None = None):
        self.pool, self.scheduler, self.conversations, self.settings = (
            pool, scheduler, conversations, settings)
        self.leases, self.desk = scheduler.leases, desk
        self.concurrency = concurrency or settings.worker.concurrency
        self.turns = TurnRunner(pool, scheduler, conversations, settings, desk, committed)
        self.running: dict[str, tuple[Lease, asyncio.Task]] = {}
        self.availability = Availability(log, "turn worker")
        self._failures: dict[str, int] = {}
        self._lost: set[str] = set()
        self._freed = asyncio.Event()
        """Set when a turn ends while every slot was busy: the loop takes more at once."""
        self._swept_at, self._reaped_at = 0.0, 0.0
        self._sweep_all = True  # at start: whatever was pending while no worker ran

    # --- The loop ---------------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event, idle_s: float = 0.05,
                          sweep_every_s: float = 30.0, drain_s: float = 4.0) -> None:
        """Take and run due conversations until `stop`; then let running turns finish for up
        to `drain_s` (the rest are cancelled and re-run elsewhere)."""
        async def step() -> float:
            await self._housekeeping(sweep_every_s)
            if await self._start_due() and len(self.running) < self.concurrency:
                return 0  # more may be due right now
            return idle_s

        def resumed() -> None:
            self._sweep_all = True  # Redis may have come back empty

        renewing = asyncio.create_task(heartbeat(
            self.leases, lambda: [lease for lease, _ in self.running.values()], self._lost_lease))
        try:
            await run_until_stopped(step, stop, self.availability, bug_pause_s=1.0,
                                    wake_on=[self._freed], resumed=resumed)
        finally:
            renewing.cancel()
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
        DUE_QUEUE_LAG.observe(max(0.0, time.time() - lease.due_at))  # taken this late
        task = asyncio.create_task(self._run_turn(lease), name=f"turn:{key}")
        self.running[key] = (lease, task)

        def done(_: asyncio.Task) -> None:
            was_full = len(self.running) >= self.concurrency
            self.running.pop(key, None)
            if was_full:
                self._freed.set()
        task.add_done_callback(done)
        return task

    async def _drain(self, within_s: float) -> None:
        """On stop, let running turns finish for a while, then cancel them (they are re-run)."""
        tasks = [task for _, task in self.running.values()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=within_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _lost_lease(self, key: str) -> None:
        """The heartbeat found another worker holding `key`'s lease: stop its turn here."""
        if key in self.running:
            self._lost.add(key)
            self.running[key][1].cancel()

    async def _housekeeping(self, sweep_every_s: float) -> None:
        now = time.monotonic()
        if now - self._reaped_at > 1.0:
            self._reaped_at = now
            await self.leases.reap()
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
        older_than = 0.0 if everything else max(2 * self.settings.debounce_s, self.leases.lease_ms / 1000)
        async with self.pool.connection() as conn:
            rows = await inbox.unscheduled(conn, older_than)
        rescheduled = await self.scheduler.reschedule(
            {row["conversation_key"]: row["last_at"] + self.settings.debounce_s for row in rows})
        if rescheduled:
            log.info("rescheduled %d conversation(s) with unanswered messages", rescheduled)
        if self.desk:
            await self.desk.sweep()  # lapsed windows, hand-backs still waiting
        return rescheduled

    # --- One conversation's turn ------------------------------------------------------------

    async def _run_turn(self, lease: Lease) -> None:
        key = lease.conversation_key
        retry_in: float | None = 0.0  # None: finished, or another worker's now
        try:
            await self.turns.run(lease, give_up=self._failures.get(key, 0) >= GIVE_UP_AFTER)
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
                await self.leases.finish(lease)
