"""Schema setup on a real Postgres: DDL runs once per version, concurrent starts do not collide."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from psycopg.conninfo import make_conninfo

from server.database import apply_schema, open_pool

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(settings, database_url):
    schema = f"t_{uuid.uuid4().hex[:10]}"
    pool = await open_pool(settings, make_conninfo(database_url, options=f"-c search_path={schema}"),
                           max_size=4)
    async with pool.connection() as conn:
        await conn.execute(f"CREATE SCHEMA {schema}")
    yield pool
    async with pool.connection() as conn:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    await pool.close()


async def test_ddl_runs_once_per_version(pool):
    ddl = "CREATE TABLE IF NOT EXISTS things (id int)"
    async with pool.connection() as conn:
        assert await apply_schema(conn, "things", ddl)
        assert not await apply_schema(conn, "things", ddl)  # unchanged: no DDL, no table lock
        assert await apply_schema(conn, "things", ddl + "; ALTER TABLE things ADD COLUMN note text")
        columns = await (await conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'things'"
            " AND table_schema = current_schema() ORDER BY ordinal_position")).fetchall()
    assert [c["column_name"] for c in columns] == ["id", "note"]


async def test_processes_starting_together_apply_it_once(pool):
    ddl = "CREATE TABLE IF NOT EXISTS shared (id int); CREATE INDEX IF NOT EXISTS shared_id ON shared (id)"

    async def start() -> bool:
        async with pool.connection() as conn:
            return await apply_schema(conn, "shared", ddl)
    assert sorted(await asyncio.gather(*(start() for _ in range(4)))) == [False, False, False, True]


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
