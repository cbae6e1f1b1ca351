"""What the composition root (server/composition.py) hands out, in the sizes the entry points
need: `Database` (a migrated pool: `switchboard migrate`, `seed`, `agents`), `Privacy`
(erasure and retention: `switchboard forget`, `prune`), `Core` (what runs
turns: `switchboard chat`, LangGraph Studio) and `ServerParts` (a whole server process:
`switchboard serve`, `switchboard worker`). Routes and commands read these; none of them
builds anything."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from graph.base.settings import Settings
from graph.base.sql import Pool
from graph.services import Services
from server.conversations import Conversations
from server.desk.desk import Desk
from server.desk.watcher import SlaWatcher
from server.inbound.intake import Intake
from server.inbound.scheduler import Scheduler
from server.inbound.worker import TurnWorker
from server.media import Media
from server.outbox import OutboxWorker
from server.privacy.daily import DailyPrune
from server.privacy.forget import Eraser
from server.privacy.prune import Pruning
from tools.shop import PostgresShop


@dataclass(frozen=True)
class Database:
    """The Postgres pool with every migration applied, and the demo shop on it."""

    pool: Pool
    shop: PostgresShop
    applied: list[str]
    """The migrations this opening applied (empty when the schema was up to date)."""


@dataclass(frozen=True)
class Core:
    """What runs turns: settings, the database, the graph's services and the conversations on
    the checkpointed graph. No Redis, no workers."""

    settings: Settings
    database: Database
    services: Services
    conversations: Conversations

    @property
    def pool(self) -> Pool:
        """The process's Postgres pool."""
        return self.database.pool


@dataclass(frozen=True)
class Privacy:
    """What erasure and retention run with: `switchboard forget` and `switchboard prune`."""

    database: Database
    eraser: Eraser
    pruning: Pruning


@dataclass
class ServerParts:
    """Everything one server process runs with: the core, the desk, Redis and the scheduler,
    intake, and the workers (started by `start_workers`, stopped when the root closes)."""

    core: Core
    desk: Desk
    redis: aioredis.Redis
    scheduler: Scheduler
    intake: Intake
    outbox_worker: OutboxWorker
    media: Media
    """Customers' files: store, console links, fetcher (server/media/)."""
    turn_worker: TurnWorker
    sla_watcher: SlaWatcher | None
    """None when RUN_SLA_WATCHER is off (another process watches SLAs)."""
    daily_prune: DailyPrune
    """Retention, once a day across processes (server/privacy/daily.py)."""
    tasks: list[asyncio.Task] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    """Set to stop the workers (a signal, or the root closing)."""

    @property
    def settings(self) -> Settings:
        """The settings the process runs with."""
        return self.core.settings

    @property
    def pool(self) -> Pool:
        """The process's Postgres pool."""
        return self.core.pool

    def start_workers(self) -> None:
        """Run the turn worker, the outbox sender, the media fetcher, the daily prune and the
        SLA watcher in this process until `stop` is set."""
        loops = [self.turn_worker.run_forever, self.outbox_worker.run_forever,
                 self.media.fetcher.run_forever, self.daily_prune.run_forever]
        if self.sla_watcher is not None:
            loops.append(self.sla_watcher.run_forever)
        self.tasks += [asyncio.create_task(loop(self.stop)) for loop in loops]
