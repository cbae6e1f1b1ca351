"""The composition root: the one place that builds Switchboard, in dependency order, and closes
it in reverse. Entry points take the size they need and open nothing themselves:

- `open_database`: settings -> Postgres pool, migrated (server/migrations/), with the secret of
  the opaque conversation ids loaded (server/conversation_ids.py).
- `open_core`: + LangGraph's checkpoint tables, the demo shop seeded, the verification ledger,
  the knowledge base, the models, the handoff planner when a desk runs -> `Services` -> the
  graph -> `Conversations`. `switchboard chat` and LangGraph Studio (no desk, no Redis).
- `open_server`: the core with the desk's planner -> tracing (OTLP when configured,
  server/tracing.py) and the breakers' metric -> `Desk` -> Redis -> scheduler -> intake,
  the desk's live updates, the outbox senders and worker, media, the turn worker and the SLA
  watcher, the daily prune. The FastAPI lifespan (`switchboard serve`) and `switchboard worker`.
- `open_privacy`: the database + LangGraph's checkpoint tables, the media store, Redis and the
  verification ledger -> the eraser and the pruning (server/privacy/). `switchboard forget`,
  `switchboard prune`.

What each builds is in server/parts.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from graph.base.settings import Settings
from graph.graph import make_graph
from graph.services import Services, build_services
from knowledge.base import KnowledgeBase, open_knowledge_base
from nodes.intents.router import default_router
from server import conversation_ids, metrics, outbox, tracing
from server.conversations import Conversations
from server.database import open_pool, setup_lock
from server.desk.desk import Desk
from server.desk.live import LivePublisher
from server.desk.notify import SlackNotifier
from server.desk.planner import DeskPlanner
from server.desk.sla import SlaPolicy
from server.desk.watcher import SlaWatcher
from server.inbound.intake import Intake
from server.inbound.scheduler import Scheduler
from server.inbound.worker import TurnWorker
from server.media import open_media
from server.media.store import open_store
from server.migrations import migrate_pool
from server.outbox.templates_catalog import catalog_for
from server.parts import Core, Database, Privacy, ServerParts
from server.privacy.daily import DailyPrune
from server.privacy.forget import Eraser
from server.privacy.prune import Pruning
from server.redis_client import open_redis, redis_url
from server.urls import cloud_api_url, public_url
from tools.seed import seed_if_empty
from tools.shop import PostgresShop
from tools.verification import VerificationLedger

SHUTDOWN_S = 5.0
"""How long a stopping process lets its running turns finish; the rest are re-run elsewhere."""


@asynccontextmanager
async def open_database(settings: Settings, *, database_url: str | None = None,
                        max_size: int | None = None) -> AsyncIterator[Database]:
    """The Postgres pool (DATABASE_URL, else the embedded server) with every migration applied;
    processes starting together take turns (`setup_lock`). Closed on exit."""
    pool = await open_pool(settings, database_url, max_size)
    try:
        async with setup_lock(pool):
            applied = await migrate_pool(pool)  # every table but LangGraph's: server/migrations
            async with pool.connection() as conn:  # opaque ids for URLs, logs and threads
                await conversation_ids.setup(conn)
        yield Database(pool, PostgresShop(pool), applied)
    finally:
        await pool.close()


@asynccontextmanager
async def open_core(settings: Settings, *, database_url: str | None = None,
                    router_model: BaseChatModel | None = None,
                    agent_model: BaseChatModel | None = None,
                    planner: bool = False) -> AsyncIterator[Core]:
    """What runs turns (see the module docstring). `planner`: give the graph the desk's handoff
    planner (SLA plans, agents online, console links), as a server with a desk does; without
    it the handoff node promises a wait by priority. Explicit models win over configured ones
    (tests, embedding)."""
    async with open_database(settings, database_url=database_url) as database:
        pool = database.pool
        async with setup_lock(pool):
            checkpointer = AsyncPostgresSaver(pool)
            await checkpointer.setup()  # LangGraph's own tables, by its own migrations
            await seed_if_empty(database.shop)
            knowledge = await open_knowledge_base(settings)  # an empty one is filled once
        # The offline router is trained once per process: here, in a thread, rather than in
        # the first customer's turn, where it would stall every turn on the event loop.
        await asyncio.to_thread(default_router)
        services = build_services(
            database.shop, knowledge, settings, router_model=router_model,
            agent_model=agent_model, verification=VerificationLedger(pool, settings),
            planner=DeskPlanner(pool, SlaPolicy.load(settings.sla_config),
                                public_url=public_url(settings)) if planner else None)
        conversations = Conversations(make_graph(checkpointer), services, pool)
        yield Core(settings, database, services, conversations)


@asynccontextmanager
async def open_server(settings: Settings, *, database_url: str | None = None,
                      router_model: BaseChatModel | None = None,
                      agent_model: BaseChatModel | None = None,
                      service: str = tracing.SERVICE_API) -> AsyncIterator[ServerParts]:
    """A whole server process (see the module docstring); the workers start with
    `ServerParts.start_workers`. On exit the workers get SHUTDOWN_S to finish their turns,
    then everything closes in reverse order. `service`: the process's name in traces
    (switchboard-api, or switchboard-worker for a process without HTTP)."""
    async with open_core(settings, database_url=database_url, router_model=router_model,
                         agent_model=agent_model, planner=True) as core, \
            contextlib.AsyncExitStack() as closing:
        pool, planner = core.pool, core.services.planner
        assert isinstance(planner, DeskPlanner)  # open_core(planner=True) built it
        closing.enter_context(tracing.open_tracing(service))  # flushed after the workers stop
        for role, breaker in core.services.breakers.items():
            breaker.listen(metrics.breaker_listener(role))
        redis = open_redis(await asyncio.to_thread(redis_url, settings))
        closing.push_async_callback(redis.aclose)
        scheduler = Scheduler(redis, settings.turn_lease_s)

        async def wake(key: str) -> None:
            await scheduler.mark_due(key, time.time())

        desk = Desk(pool, core.conversations, planner, publish=LivePublisher(redis).publish,
                    wake=wake, templates=catalog_for(settings))
        senders = outbox.senders_from(settings, graph_url=cloud_api_url(settings),
                                      public_url=public_url(settings))
        for sender in senders.values():
            closing.push_async_callback(_quietly, sender.aclose)
        outbox_worker = outbox.OutboxWorker(pool, senders, redis=redis,
                                            settings=settings.outbox, desk=desk)
        media = await open_media(settings, pool, scheduler, cloud_api_url(settings))
        closing.push_async_callback(media.aclose)
        parts = ServerParts(
            core=core, desk=desk, redis=redis, scheduler=scheduler,
            intake=Intake(pool, scheduler, settings.debounce_s, media_queued=media.fetcher.wake),
            outbox_worker=outbox_worker, media=media,
            turn_worker=TurnWorker(pool, scheduler, core.conversations, settings, desk,
                                   committed=outbox_worker.wake),
            sla_watcher=SlaWatcher(pool, planner.policy, SlackNotifier(
                settings.slack_webhook_url, public_url=public_url(settings)))
            if settings.run_sla_watcher else None,
            daily_prune=DailyPrune(Pruning(pool, media.store, settings.retention), redis))
        # The libraries loaded by now (LangChain, Chroma, the embedding model) hold hundreds of
        # thousands of long-lived objects; frozen, the collector stops re-scanning them on every
        # full collection that the garbage of requests and turns triggers.
        gc.freeze()
        try:
            yield parts
        finally:
            await _stop_workers(parts)


@asynccontextmanager
async def open_privacy(settings: Settings, *,
                       database_url: str | None = None) -> AsyncIterator[Privacy]:
    """What erasure and retention run with (see the module docstring). Closed on exit."""
    async with open_database(settings, database_url=database_url) as database:
        pool = database.pool
        async with setup_lock(pool):
            await AsyncPostgresSaver(pool).setup()  # forget may meet a database with no turns yet
        redis = open_redis(await asyncio.to_thread(redis_url, settings))
        try:
            store = open_store(settings)
            yield Privacy(database, Eraser(pool, store, redis, VerificationLedger(pool, settings)),
                          Pruning(pool, store, settings.retention))
        finally:
            await redis.aclose()


def evaluation_services(settings: Settings, knowledge: KnowledgeBase) -> Services:
    """The configured models over a throwaway knowledge base, with no shop, ledger or desk:
    what `switchboard eval answers` runs the answering nodes with (nodes/answer_evaluation.py)."""
    return build_services(shop=None, knowledge=knowledge, settings=settings)  # type: ignore[arg-type]


async def _stop_workers(parts: ServerParts) -> None:
    """Workers finish the turns they hold, briefly, then stop (the rest are re-run elsewhere)."""
    parts.stop.set()
    if parts.tasks:
        await asyncio.wait(parts.tasks, timeout=SHUTDOWN_S)
    for task in parts.tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def _quietly(close) -> None:
    """Close a sender; one that fails to close must not keep the rest open."""
    with contextlib.suppress(Exception):
        await close()
