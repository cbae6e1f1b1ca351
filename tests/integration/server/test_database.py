"""Setting up on a real Postgres: processes starting together take turns without blocking one
another (the schema's migrations have their own tests: test_migrations.py)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from psycopg.conninfo import make_conninfo

from server.database import open_pool

pytestmark = pytest.mark.integration


@pytest.fixture
async def fresh_database(database_url):
    """A database of its own, new: LangGraph's checkpoint migrations run in it for the first time."""
    import psycopg

    name = f"fresh_{uuid.uuid4().hex[:10]}"
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo(database_url, dbname=name)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_a_process_waiting_to_set_up_does_not_block_the_one_setting_up(settings, fresh_database):
    """The holder runs CREATE INDEX CONCURRENTLY, which waits for every open snapshot: the
    waiting process must not sit in a statement meanwhile."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    from server.database import setup_lock

    first = await open_pool(settings, fresh_database, max_size=3)
    second = await open_pool(settings, fresh_database, max_size=3)
    try:
        async def set_up_after_the_first() -> None:
            async with setup_lock(second):
                pass
        async with setup_lock(first):
            waiting = asyncio.create_task(set_up_after_the_first())
            await asyncio.sleep(0.5)
            assert not waiting.done()  # it waits its turn
            await asyncio.wait_for(AsyncPostgresSaver(first).setup(), 30)
        await asyncio.wait_for(waiting, 10)
    finally:
        await first.close()
        await second.close()
