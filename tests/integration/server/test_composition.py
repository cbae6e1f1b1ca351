"""The composition root (server/composition.py) on real Postgres and Redis: each size builds
what it says, the graph's handoff planner is the desk's (given at construction), and leaving
closes what it opened."""

from __future__ import annotations

import pytest

from server.composition import open_core, open_database, open_privacy, open_server
from server.desk.planner import DeskPlanner

pytestmark = pytest.mark.integration


async def test_the_database_is_migrated_once(settings, database_url):
    async with open_database(settings, database_url=database_url, max_size=2) as first:
        pass
    async with open_database(settings, database_url=database_url, max_size=2) as again:
        assert again.applied == []  # the first opening (or an earlier test) applied them
        assert again.shop.pool is again.pool
        async with again.pool.connection() as conn:
            assert (await (await conn.execute("SELECT 1 AS one")).fetchone())["one"] == 1
    assert first.pool.closed and again.pool.closed


async def test_the_core_plans_handoffs_only_when_asked(settings, database_url):
    async with open_core(settings, database_url=database_url) as core:
        assert core.services.planner is None  # terminal chat, Studio: no desk
        assert core.conversations.pool is core.pool
    async with open_core(settings, database_url=database_url, planner=True) as core:
        assert isinstance(core.services.planner, DeskPlanner)
    assert core.pool.closed


async def test_the_server_gives_the_graph_the_desks_planner_and_closes_in_reverse(
        settings, database_url):
    config = settings.model_copy(update={"run_sla_watcher": True})
    async with open_server(config, database_url=database_url) as parts:
        assert parts.core.services.planner is parts.desk.planner
        assert parts.sla_watcher is not None and parts.sla_watcher.policy is parts.desk.policy
        assert parts.turn_worker.conversations is parts.core.conversations
        assert await parts.redis.ping()
        parts.start_workers()
        assert parts.daily_prune.pruning.pool is parts.pool
        assert parts.daily_prune.pruning.store is parts.media.store
        assert len(parts.tasks) == 5  # turns, outbox, media, daily prune, SLA watcher
    assert parts.stop.is_set() and all(task.done() for task in parts.tasks)
    assert parts.pool.closed


async def test_a_server_without_the_watcher_starts_four_loops(settings, database_url):
    config = settings.model_copy(update={"run_sla_watcher": False})
    async with open_server(config, database_url=database_url) as parts:
        assert parts.sla_watcher is None
        parts.start_workers()
        assert len(parts.tasks) == 4


async def test_privacy_erases_and_prunes_on_one_pool_and_closes(settings, database_url):
    async with open_privacy(settings, database_url=database_url) as privacy:
        assert privacy.eraser.pool is privacy.pruning.pool is privacy.database.pool
        assert privacy.eraser.store is privacy.pruning.store
        assert privacy.pruning.retention == settings.retention
        assert await privacy.eraser.redis.ping()
    assert privacy.database.pool.closed
