"""The media fetcher: takes queued files (server/media/jobs.py), downloads them from the
provider, checks them, keeps them in the store and, for a voice note, asks for its transcript.

It runs beside the turn worker in every worker process. A webhook that queues a file wakes the
fetcher of its own process at once; the others look every second. A failed try is retried
with pauses that double from 1 s (at most 60 s) up to MEDIA__FETCH_ATTEMPTS tries; a crashed
fetcher's job is taken over when its lease runs out. Log lines name the media row, never the
file's name, its words or the customer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time

from graph.base import media_text
from graph.base.settings import MediaSettings
from graph.base.sql import Pool
from server.availability import OUTAGES, Availability
from server.inbound.scheduler import Scheduler
from server.loop import run_until_stopped
from server.media import checks, jobs
from server.media.jobs import Job
from server.media.sources import Permanent, Source, Transient
from server.media.store import MediaStore, new_key
from server.media.transcribe import Transcriber, TranscriptionFailed

log = logging.getLogger(__name__)


_RETRIED: tuple[type[BaseException], ...] = (Transient, *OUTAGES)
"""Failures a later try may not meet: the provider's, or one of our stores' outages."""


class MediaFetcher:
    """Downloads customers' files from the providers, checks and keeps them, and transcribes
    voice notes."""

    def __init__(self, pool: Pool, store: MediaStore, sources: dict[str, Source],
                 config: MediaSettings, *, transcriber: Transcriber | None = None,
                 scheduler: Scheduler | None = None, concurrency: int = 8):
        self.pool, self.store, self.sources, self.config = pool, store, sources, config
        self.transcriber, self.scheduler, self.concurrency = transcriber, scheduler, concurrency
        self.running: set[asyncio.Task] = set()
        self.availability = Availability(log, "media fetcher")
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New files are queued: look now rather than at the next poll."""
        self._wake.set()

    async def run_forever(self, stop: asyncio.Event, poll_s: float = 1.0) -> None:
        """Fetch until `stop`, at once when woken, else every `poll_s`; then wait for the
        fetches under way."""
        async def step() -> float:
            if await self._start_due() and len(self.running) < self.concurrency:
                return 0  # more may be due right now
            return poll_s

        await run_until_stopped(step, stop, self.availability, bug_pause_s=poll_s,
                                wake_on=[self._wake])
        await asyncio.gather(*self.running, return_exceptions=True)

    async def run_once(self) -> int:
        """Fetch every job due now, and wait for them; returns how many were taken."""
        async with self.pool.connection() as conn:
            taken = await jobs.claim(conn, self.concurrency)
        await asyncio.gather(*(self.process(job) for job in taken))
        return len(taken)

    async def _start_due(self) -> int:
        free = self.concurrency - len(self.running)
        if free <= 0:
            return 0
        async with self.pool.connection() as conn:
            taken = await jobs.claim(conn, free)
        for job in taken:
            task = asyncio.create_task(self.process(job), name=f"media:{job.id}")
            self.running.add(task)
            task.add_done_callback(self.running.discard)
        return len(taken)

    async def process(self, job: Job) -> None:
        """One try at one job; every outcome is written to its row. If Postgres is away even
        for that, the job's lease runs out and it is tried again."""
        try:
            await self._try(job)
        except OUTAGES as error:
            self.availability.failed(error)

    async def _try(self, job: Job) -> None:
        transcriber = self.transcriber if job.kind in media_text.HEARD_KINDS else None
        heard = transcriber is not None
        content_type, key = job.content_type, job.storage_key
        try:
            data = None
            if key is None:
                download = await self._source(job).download(job, self.config.max_bytes)
                content_type = checks.inspect(job.kind, download.data, self.config.max_bytes)
                new, data = new_key(checks.extension(content_type)), download.data
                await self.store.put(new, data, content_type)
                async with self.pool.connection() as conn:
                    await jobs.kept(conn, job, content_type=content_type, size=len(data),
                                    sha256=hashlib.sha256(data).hexdigest(), storage_key=new)
                key = new  # kept: a later try only transcribes
            transcript = None
            if transcriber is not None:
                data = data if data is not None else await self.store.get(key)
                # A stored file always has its checked content type (jobs.kept records both).
                transcript = await transcriber.transcribe(data, content_type or "")
            await self._finish(job, "stored", transcript=transcript or None,
                               transcript_state=("done" if transcript else "empty") if heard else None)
        except checks.Refused as refused:
            log.warning("media %s refused: %s", job.id, refused)
            await self._finish(job, "refused", reason=str(refused))
        except Permanent as error:
            log.warning("media %s could not be fetched: %s", job.id, error)
            await self._finish(job, "failed", reason=str(error))
        except TranscriptionFailed as error:
            await self._failed_try(job, f"transcription: {error}", stored=True,
                                   give_up=not error.transient)
        except _RETRIED as error:
            await self._failed_try(job, str(error) or type(error).__name__, stored=key is not None)
        except Exception as error:  # a bug or a store error: retried like any failure
            log.exception("media %s: unexpected error", job.id)
            await self._failed_try(job, f"error: {type(error).__name__}", stored=key is not None)

    def _source(self, job: Job) -> Source:
        source = self.sources.get(job.provider)
        if source is None:
            raise Permanent(f"no media source for provider {job.provider}")
        return source

    async def _failed_try(self, job: Job, reason: str, *, stored: bool, give_up: bool = False) -> None:
        if give_up or job.attempts >= self.config.fetch_attempts:
            log.warning("media %s: giving up after %d tries: %s", job.id, job.attempts, reason)
            # A file already kept stays visible to agents; only its transcript is missing.
            await self._finish(job, "stored" if stored else "failed", reason=reason,
                               transcript_state="failed" if stored else None)
            return
        pause = min(60.0, 2.0 ** (job.attempts - 1))
        log.info("media %s: try %d failed (%s); again in %.0f s", job.id, job.attempts, reason, pause)
        with contextlib.suppress(*OUTAGES):  # else the lease runs out and the job is retried
            async with self.pool.connection() as conn:
                await jobs.retry_later(conn, job, reason, pause)

    async def _finish(self, job: Job, state: str, **outcome) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            settled = await jobs.finish(conn, job, state, **outcome)
        if settled and job.kind in media_text.HEARD_KINDS and self.scheduler is not None:
            # The conversation's turn may be waiting for these words (server/inbound/worker.py).
            with contextlib.suppress(*OUTAGES):
                await self.scheduler.mark_due(job.conversation_key, time.time())
