"""Everything one server process holds open, built in the FastAPI lifespan (and by tests)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from langchain_core.language_models import BaseChatModel

from graph.base.settings import Settings
from server import outbox
from server.availability import OUTAGES, Availability
from server.bootstrap import Switchboard, open_switchboard
from server.database import setup_lock
from server.desk.desk import Desk
from server.inbound.intake import Intake
from server.inbound.scheduler import Scheduler
from server.inbound.worker import TurnWorker
from server.media import Media, open_media
from server.redis_client import open_redis, redis_url

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything one server process runs with: settings, graph, stores and workers."""

    settings: Settings
    switchboard: Switchboard
    redis: aioredis.Redis
    scheduler: Scheduler
    desk: Desk
    turn_worker: TurnWorker
    outbox_worker: outbox.OutboxWorker
    intake: Intake
    media: Media | None = None
    """Customers' files: store, console links, fetcher (server/media/)."""
    tasks: list[asyncio.Task] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pool(self):
        return self.switchboard.conversations.pool

    def start_workers(self) -> None:
        """Run the turn worker, the outbox sender and the SLA watcher in this process."""
        from server.desk.notify import SlackNotifier
        from server.desk.watcher import SlaWatcher

        self.tasks += [asyncio.create_task(self.turn_worker.run_forever(self.stop)),
                       asyncio.create_task(self.outbox_worker.run_forever(self.stop))]
        if self.media is not None:
            self.tasks.append(asyncio.create_task(self.media.fetcher.run_forever(self.stop)))
        if self.settings.run_sla_watcher:
            watcher = SlaWatcher(self.pool, self.desk.policy, SlackNotifier(
                self.settings.slack_webhook_url, public_url=public_url(self.settings)))
            self.tasks.append(asyncio.create_task(watcher.run_forever(self.stop)))


def public_url(settings: Settings) -> str:
    """The URL customers and agents reach this server at (links in messages and alerts)."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def cloud_api_url(settings: Settings) -> str:
    """Meta's Graph API, or the built-in fake one that the simulator mounts on this server."""
    return (settings.meta.graph_url or f"{public_url(settings)}/fake-graph").rstrip("/")


SHUTDOWN_S = 5.0
"""How long a stopping process lets its running turns finish; the rest are re-run elsewhere."""
DESK_CHANNEL = "switchboard:desk"
"""Redis pub/sub channel of desk events; the console's live updates listen to it."""


async def open_desk(settings: Settings, pool, switchboard: Switchboard, redis: aioredis.Redis,
                    scheduler: Scheduler) -> Desk:
    """The desk with its SLA policy, live events and wake-ups."""
    from server.desk.sla import SlaPolicy

    live_updates = Availability(log, "console live updates")

    async def publish(event: dict) -> None:
        try:
            await redis.publish(DESK_CHANNEL, json.dumps(event))
        except OUTAGES as error:  # best effort: the page still polls
            live_updates.failed(error)
        else:
            live_updates.ok()

    async def wake(key: str) -> None:
        await scheduler.mark_due(key, time.time())

    desk = Desk(pool, switchboard.conversations, SlaPolicy.load(settings.sla_config),
                publish=publish, public_url=public_url(settings), wake=wake,
                window_template={"name": settings.reengagement_template,
                                 "language": settings.template_language})
    async with setup_lock(pool):
        await desk.setup()
    switchboard.services.desk = desk
    return desk


@asynccontextmanager
async def open_runtime(settings: Settings, *, database_url: str | None = None,
                       router_model: BaseChatModel | None = None,
                       agent_model: BaseChatModel | None = None) -> AsyncIterator[Runtime]:
    """Open the whole runtime; close it on exit."""
    async with open_switchboard(settings, database_url=database_url, router_model=router_model,
                                agent_model=agent_model) as switchboard:
        pool = switchboard.conversations.pool
        redis = open_redis(await asyncio.to_thread(redis_url, settings))
        scheduler = Scheduler(redis, settings.turn_lease_s)
        senders = outbox.senders_from(settings, graph_url=cloud_api_url(settings),
                                      public_url=public_url(settings))
        desk = await open_desk(settings, pool, switchboard, redis, scheduler)
        media = await open_media(settings, pool, scheduler, cloud_api_url(settings))
        outbox_worker = outbox.OutboxWorker(pool, senders, redis=redis,
                                            settings=settings.outbox, desk=desk)
        runtime = Runtime(
            settings=settings, switchboard=switchboard, redis=redis, scheduler=scheduler, desk=desk,
            turn_worker=TurnWorker(pool, scheduler, switchboard.conversations, settings, desk,
                                   committed=outbox_worker.wake),
            outbox_worker=outbox_worker, media=media,
            intake=Intake(pool, scheduler, settings.debounce_s, media_queued=media.fetcher.wake))
        # The libraries loaded by now (LangChain, Chroma, the embedding model) hold hundreds of
        # thousands of long-lived objects; frozen, the collector stops re-scanning them on every
        # full collection that the garbage of requests and turns triggers.
        gc.freeze()
        try:
            yield runtime
        finally:
            runtime.stop.set()  # workers finish the turns they hold, briefly, then stop
            if runtime.tasks:
                await asyncio.wait(runtime.tasks, timeout=SHUTDOWN_S)
            for task in runtime.tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for sender in senders.values():
                with contextlib.suppress(Exception):
                    await sender.aclose()
            await media.aclose()
            await redis.aclose()
