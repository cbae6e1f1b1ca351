"""Intake: store webhooks durably and schedule their conversations, many webhooks at a time.

Concurrent webhooks share one Postgres commit (one INSERT, in one transaction with any delivery
statuses) and one Redis ZADD: under load one WAL flush acknowledges a whole group, while a lone
webhook is stored at once with no added wait. A webhook is still acknowledged only after the
commit that holds it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from opentelemetry import trace
from psycopg_pool import PoolTimeout

from graph.base import audit
from graph.base.sql import Conn, Pool
from server import audit_events, outbox, tracing
from server.availability import OUTAGES, Availability
from server.channels.models import InboundMessage, WebhookBatch
from server.inbound import inbox
from server.inbound.scheduler import Scheduler
from server.media import jobs as media_jobs

log = logging.getLogger(__name__)
MAX_GROUP = 256
"""Most webhooks in one transaction; a longer queue is committed in several."""
DB_WAIT_S = 2.0
"""How long a webhook waits for a database connection before answering 503."""


class StorageUnavailable(RuntimeError):
    """Postgres could not take the webhook; the provider should retry it."""


@dataclass(frozen=True)
class Accepted:
    """What one webhook delivery added: new messages, duplicates and statuses."""

    stored: int
    duplicates: int
    statuses: int

    def as_dict(self) -> dict[str, int]:
        # Not dataclasses.asdict: it deep-copies, and this runs once per webhook.
        return {"stored": self.stored, "duplicates": self.duplicates, "statuses": self.statuses}


class Intake:
    """Stores webhook messages and statuses and schedules their conversations' turns."""

    def __init__(self, pool: Pool, scheduler: Scheduler, debounce_s: float,
                 *, wait_s: float = DB_WAIT_S, media_queued: Callable[[], None] | None = None):
        self.pool, self.scheduler, self.debounce_s, self.wait_s = pool, scheduler, debounce_s, wait_s
        self.media_queued = media_queued
        """Called after a commit that queued files to fetch (this process's media fetcher)."""
        self._waiting: list[tuple[WebhookBatch, asyncio.Future[Accepted], trace.Link]] = []
        self._flusher: asyncio.Task | None = None
        self.redis = Availability(log, "scheduling of new messages", max_pause_s=1.0)
        self._redis_retry_at = 0.0
        self._unscheduled: set[str] = set()
        """Conversations stored while Redis was away, scheduled with the next ZADD that works
        (the worker's sweep of Postgres finds them too, should this process stop first)."""

    async def accept(self, batch: WebhookBatch) -> Accepted:
        """Store the batch's messages and statuses, then schedule its conversations.

        Raises StorageUnavailable when Postgres cannot take it (no connection within
        `wait_s`, or the connection failed): nothing was acknowledged, so the provider retries.
        """
        future = asyncio.get_running_loop().create_future()
        # The group's store span links every webhook it holds (its parent is the first one's).
        self._waiting.append((batch, future, trace.Link(trace.get_current_span().get_span_context())))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        # Webhooks that arrive while a group commits form the next group.
        while self._waiting:
            group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
            batches = [batch for batch, _, _ in group]
            try:
                outcomes: list[Accepted | BaseException] = list(await self._commit(
                    batches, links=[link for _, _, link in group if link.context.is_valid]))
            except StorageUnavailable as error:
                outcomes = [error] * len(group)
            except Exception as error:  # noqa: BLE001 - resolved per webhook below
                # One bad webhook must not fail its neighbours: commit each on its own.
                outcomes = [error] if len(group) == 1 else [
                    await self._commit_alone(batch) for batch in batches]
            for (_, future, _), outcome in zip(group, outcomes, strict=True):
                if future.done():  # the request was cancelled; its rows stay stored
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    async def _commit_alone(self, batch: WebhookBatch) -> Accepted | BaseException:
        try:
            return (await self._commit([batch]))[0]
        except Exception as error:  # noqa: BLE001 - handed to that webhook's request
            return error

    async def _commit(self, batches: list[WebhookBatch], links: list[trace.Link] | None = None
                      ) -> list[Accepted]:
        messages = [message for batch in batches for message in batch.messages]
        statuses = [status for batch in batches for status in batch.statuses]
        with tracing.span("store", (m.conversation_id for m in messages), links=links,
                          attributes={"switchboard.messages": len(messages),
                                      "switchboard.statuses": len(statuses)}):
            inserted, with_media = await self._store(messages, statuses)
        if with_media and self.media_queued:
            self.media_queued()
        new_by_batch = [[m for m in batch.messages if _claim(inserted, m)] for batch in batches]
        await self._schedule([m for new in new_by_batch for m in new])
        return [Accepted(stored=len(new), duplicates=len(batch.messages) - len(new),
                         statuses=len(batch.statuses))
                for batch, new in zip(batches, new_by_batch, strict=True)]

    async def _store(self, messages: list[InboundMessage], statuses: list
                     ) -> tuple[set[tuple[str, str]], list[InboundMessage]]:
        """One INSERT of the messages (with their files and any statuses in one transaction);
        returns the (provider, id) pairs inserted and the messages with a file to fetch."""
        try:
            # One transaction: the messages, their audit events (server/audit_events.py), their
            # files' fetch jobs (a crash cannot lose a fetch) and the statuses with theirs.
            with_media = [m for m in messages if media_jobs.fetched(m)]
            async with self.pool.connection(timeout=self.wait_s) as conn, conn.transaction():
                inserted = await inbox.store_many(conn, messages)
                await audit.record(conn, *(audit_events.inbound_event(m) for m in _first_copies(
                    messages, inserted)))
                if with_media:
                    await media_jobs.record(conn, [m for m in with_media if (
                        m.provider, m.provider_message_id) in inserted])
                if statuses:
                    await apply_statuses(conn, statuses)
        except (PoolTimeout, psycopg.OperationalError) as error:
            log.error("database unavailable, asking the provider to retry: %s", type(error).__name__)
            raise StorageUnavailable("storage unavailable, retry later") from error
        return inserted, with_media

    async def _schedule(self, new: list[InboundMessage]) -> None:
        keys: set[str] = {m.conversation_id for m in new if m.needs_turn}
        if not keys:
            return
        if time.monotonic() < self._redis_retry_at:  # Redis is away: do not wait for it
            self._remember(keys)
            return
        try:
            with tracing.span("schedule", keys):
                await self.scheduler.mark_due_many(keys | self._unscheduled,
                                                   time.time() + self.debounce_s)
                await tracing.remember(self.scheduler.redis, "due", keys)  # the turn continues it
        except OUTAGES as error:
            self._remember(keys)
            self._redis_retry_at = time.monotonic() + self.redis.failed(error)
        else:
            self._unscheduled.clear()
            self.redis.ok()

    def _remember(self, keys: set[str]) -> None:
        if len(self._unscheduled) < 100_000:  # beyond that, the sweep of Postgres catches up
            self._unscheduled |= keys


async def apply_statuses(conn: Conn, statuses: list) -> None:
    """Apply delivery statuses in one order that every process shares (each moves one outbox
    row): transactions that lock the same rows in other orders deadlock. Sent together."""
    async with conn.pipeline():
        for status in sorted(statuses, key=lambda s: (s.provider_message_id, s.at)):
            await outbox.apply_status(conn, status)


def _first_copies(messages: list[InboundMessage],
                  inserted: set[tuple[str, str]]) -> list[InboundMessage]:
    """The newly inserted messages, each once (a retry raced into the same group is not)."""
    pending = set(inserted)
    return [m for m in messages if _claim(pending, m)]


def _claim(inserted: set[tuple[str, str]], message: InboundMessage) -> bool:
    """True for the first of a group's copies of a newly inserted message; a retry that raced
    its original into the same group is a duplicate, as it would be in a later one."""
    key = (message.provider, message.provider_message_id)
    if key in inserted:
        inserted.discard(key)
        return True
    return False
