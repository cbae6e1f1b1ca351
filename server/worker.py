"""The turn worker: takes due conversations, runs one graph turn each, commits the replies.

Any number of worker processes can run against the same Redis and Postgres. A conversation
is run by one worker at a time (the scheduler's lease); the commit is fenced, so a worker that
lost its lease commits nothing; and a turn has a key, so re-running it after a crash
continues the same LangGraph run and enqueues replies under the same idempotency keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from server import inbox, outbox
from server.conversations import Conversations
from server.desk.desk import Desk
from server.inbox import StoredMessage
from server.scheduler import Lease, Scheduler
from server.settings import Settings

log = logging.getLogger(__name__)


class LostLease(RuntimeError):
    """Another worker took the conversation over; this worker's turn must not commit."""


class TurnWorker:
    def __init__(self, pool: AsyncConnectionPool, scheduler: Scheduler,
                 conversations: Conversations, settings: Settings, desk: Desk | None = None):
        self.pool, self.scheduler, self.conversations, self.settings = (
            pool, scheduler, conversations, settings)
        self.desk = desk

    async def run_forever(self, stop: asyncio.Event, idle_s: float = 0.1,
                          sweep_every_s: float = 30.0) -> None:
        swept_at = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() - swept_at > sweep_every_s:
                    swept_at = time.monotonic()
                    await self.sweep()
                ran = await self.run_once()
            except Exception:  # a bad turn must not stop the worker; it is retried when due
                log.exception("turn worker iteration failed")
                ran = 0
            if not ran:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), idle_s)

    async def sweep(self) -> int:
        """Schedule conversations whose messages were stored but never scheduled (Redis was
        down when they arrived, or their due entry was lost)."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                "SELECT DISTINCT conversation_key FROM inbound_messages WHERE state IN"
                " ('pending', 'in_turn') AND received_at < now() - make_interval(secs => %s)",
                (max(2 * self.settings.debounce_s, self.settings.turn_lease_s),))).fetchall()
        for row in rows:
            await self.scheduler.mark_due(row["conversation_key"], time.time())
        if self.desk:
            await self._mark_dormant()
        return len(rows)

    async def _mark_dormant(self) -> None:
        """Bot conversations whose 24-hour window has lapsed become DORMANT (recorded)."""
        async with self.pool.connection() as conn, conn.transaction():
            lapsed = await (await conn.execute(
                "UPDATE desk_conversations SET state = 'DORMANT', updated_at = now() WHERE state = 'BOT'"
                " AND last_customer_at < now() - interval '24 hours' RETURNING key")).fetchall()
            for row in lapsed:
                await self.desk.event(conn, row["key"], "system", "transition", from_state="BOT",
                                      to_state="DORMANT", reason="24-hour window lapsed")

    async def run_once(self, now: float | None = None) -> int:
        """Run every conversation that is due now and not leased elsewhere; returns how many."""
        ran = 0
        for conversation_key, due_at in await self.scheduler.due(now or time.time()):
            lease = await self.scheduler.acquire(conversation_key, due_at, self._next_fence)
            if lease is None:
                continue
            try:
                await self._with_heartbeat(lease)
                ran += 1
            except LostLease:
                log.warning("lost the lease on %s; its new owner finishes the turn", conversation_key)
            finally:
                await self.scheduler.finish(lease)
        return ran

    async def _next_fence(self) -> int:
        async with self.pool.connection() as conn:
            return await inbox.next_fence(conn)

    async def _with_heartbeat(self, lease: Lease) -> None:
        async def beat() -> None:
            while True:
                await asyncio.sleep(self.scheduler.lease_ms / 3000)
                if not await self.scheduler.renew(lease):
                    return
        heartbeat = asyncio.create_task(beat())
        try:
            await self.process(lease)
        finally:
            heartbeat.cancel()

    async def process(self, lease: Lease) -> None:
        now = datetime.now(UTC)
        if self.desk:
            await self._pause_if_taken_over(lease.conversation_key)
        async with self.pool.connection() as conn:
            rows = await inbox.unfinished(conn, lease.conversation_key)
            crashed = [r for r in rows if r.state == "in_turn"]
            if crashed:  # a worker died mid-turn: finish exactly that turn first
                turn_key = crashed[0].turn_key
                batch = [r for r in crashed if r.turn_key == turn_key]
            else:
                batch = await self._start_turn(conn, rows, lease, now)
                if not batch:
                    return
                turn_key = batch[0].turn_key
        customer = batch[0]
        phone = customer.phone or customer.conversation_key
        key = lease.conversation_key
        should_yield = (lambda: self.desk.human_owns(key)) if self.desk else None
        turn = await self.conversations.handle(phone, *[r.body for r in batch], turn_key=turn_key,
                                               should_yield=should_yield)
        async with self.pool.connection() as conn, conn.transaction():
            if not await inbox.take_fence(conn, lease.conversation_key, lease.fence):
                raise LostLease(lease.conversation_key)
            if self.desk and not await self._desk_allows(conn, turn, batch, key, phone):
                turn.replies = []  # a human owns it now: the bot's reply is discarded (recorded)
            if turn.replies:
                await outbox.enqueue_reply(
                    conn, conversation_key=lease.conversation_key,
                    recipient=customer.phone or customer.conversation_key,
                    # One WhatsApp message per turn, however many texts the graph produced.
                    provider=customer.provider, texts=["\n\n".join(turn.replies)],
                    idempotency_key=turn_key,
                    last_customer_at=max(r.sent_at for r in batch), now=datetime.now(UTC),
                    window_template={"name": self.settings.reengagement_template,
                                     "language": self.settings.template_language})
            await inbox.settle(conn, [r.id for r in batch], "done")

    async def _pause_if_taken_over(self, key: str) -> None:
        """A human took the conversation over in the console: pause its graph (under this
        worker's lease, so no bot turn runs at the same time)."""
        async with self.pool.connection() as conn:
            row = await self.desk.row(conn, key)
        if row and row["state"] in ("PENDING_AGENT", "AGENT"):
            await self.conversations.take_over(row["phone"] or key, "agent_takeover",
                                               agent=row["assigned_agent"])

    async def _desk_allows(self, conn, turn, batch: list[StoredMessage], key: str, phone: str) -> bool:
        """Under the desk row's lock: may this turn's bot replies go out? Records the handoff."""
        now = datetime.now(UTC)
        row = await self.desk.lock(conn, key)
        human = bool(row and row["state"] in ("PENDING_AGENT", "AGENT"))
        if turn.held:
            if human:
                await self.desk.note_customer(conn, key, [r.body for r in batch], now)
            return False
        if human:
            await self.desk.event(conn, key, "bot", "discarded_bot_reply",
                                  payload={"replies": turn.replies, "turn_key": batch[0].turn_key})
            return False
        if row and row["state"] in ("CLOSED", "DORMANT"):
            await self.desk.event(conn, key, "customer", "transition", from_state=row["state"],
                                  to_state="BOT", reason="customer wrote again")
        if turn.handoff:
            await self.desk.open_handoff(conn, key=key, phone=phone, provider=batch[0].provider,
                                         payload=turn.handoff, now=now)
        else:
            await conn.execute(
                "INSERT INTO desk_conversations (key, phone, provider, last_customer_at) VALUES"
                " (%s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET last_customer_at ="
                " excluded.last_customer_at, updated_at = now(), state = CASE WHEN"
                " desk_conversations.state IN ('CLOSED', 'DORMANT') THEN 'BOT' ELSE"
                " desk_conversations.state END", (key, phone, batch[0].provider,
                                                 max(r.sent_at for r in batch)))
        return True

    async def _start_turn(self, conn, rows: list[StoredMessage], lease: Lease,
                          now: datetime) -> list[StoredMessage]:
        """Settle what needs no turn, then claim the rest under a new turn key."""
        oldest = now - timedelta(seconds=self.settings.stale_message_age_s)
        stale = [r for r in rows if r.sent_at < oldest]
        quiet = [r for r in rows if r.sent_at >= oldest and not r.needs_turn]
        batch = [r for r in rows if r.sent_at >= oldest and r.needs_turn]
        turn_key = f"{lease.conversation_key}:{lease.fence}"
        async with conn.transaction():
            if stale:
                log.info("dropping %d stale message(s) for %s", len(stale), lease.conversation_key)
                await inbox.settle(conn, [r.id for r in stale], "stale")
            if quiet:
                await inbox.settle(conn, [r.id for r in quiet], "skipped")
            if batch:
                await inbox.claim(conn, [r.id for r in batch], turn_key)
                # Read receipt and typing indicator as the turn starts.
                await outbox.enqueue_read_receipt(
                    conn, provider=batch[-1].provider, recipient=batch[-1].phone or lease.conversation_key,
                    inbound_message_id=batch[-1].provider_message_id,
                    conversation_key=lease.conversation_key)
        return [StoredMessage(**{**r.__dict__, "state": "in_turn", "turn_key": turn_key}) for r in batch]
