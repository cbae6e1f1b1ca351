"""Versioned schema migrations: the numbered .sql files next to this module, the one source of
every table Switchboard keeps in PostgreSQL (LangGraph's checkpointer keeps its own).

Each file (NNNN_what_it_does.sql) runs once, in order, in a transaction of its own, and is
recorded in schema_migrations with a checksum of its text. Processes starting together take
turns through an advisory lock, so each migration is applied exactly once. An applied file
whose text changed since, or a database migrated by a newer version (a version this code does
not have), stops the start with a MigrationError: a migration is changed by adding the next
file, never by editing an applied one. A database that is up to date costs one SELECT and
takes no lock, so a process restarted while others serve waits behind nobody's transactions.
Why a runner of our own rather than a library: docs/migrations.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection, Error
from psycopg.rows import dict_row

from graph.base.sql import Pool, required

log = logging.getLogger(__name__)

DIRECTORY = Path(__file__).parent
FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LOCK = "switchboard.migrations"
TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(), checksum text NOT NULL)"""


class MigrationError(RuntimeError):
    """The schema cannot be brought up to date; the message says why and what to do."""


@dataclass(frozen=True)
class Migration:
    """One numbered SQL migration and its checksum."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        # Line endings normalised: a checkout with CRLF is the same migration.
        return hashlib.sha256(self.sql.replace("\r\n", "\n").encode()).hexdigest()


def load(directory: Path = DIRECTORY) -> list[Migration]:
    """The migrations in `directory`, in order; a .sql file misnamed or numbered twice is an error."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: a migration is named NNNN_what_it_does.sql")
        version = int(match[1])
        if version in migrations:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        migrations[version] = Migration(version, path.stem, path.read_text(encoding="utf-8"))
    return [migrations[v] for v in sorted(migrations)]


async def migrate(conn: AsyncConnection[Any], directory: Path = DIRECTORY) -> list[str]:
    """Apply the migrations this database lacks; the names applied (none when up to date).
    `conn` must be in autocommit mode (a pool connection is): each migration is its own
    transaction."""
    if not conn.autocommit:
        raise MigrationError("migrate() needs a connection in autocommit mode")
    migrations = await asyncio.to_thread(load, directory)  # file reads stay off the event loop
    if not _pending(migrations, await _applied(conn)):
        return []
    done: list[str] = []
    async with _advisory_lock(conn):
        await conn.execute(TABLE)
        for migration in _pending(migrations, await _applied(conn)):  # others may have run some
            try:
                async with conn.transaction():
                    await conn.execute(migration.sql, prepare=False)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum))
            except Error as error:
                raise MigrationError(f"migration {migration.name} failed and was rolled back:"
                                     f" {type(error).__name__}: {error}") from error
            log.info("applied migration %s", migration.name)
            done.append(migration.name)
    return done


def _pending(migrations: list[Migration], applied: dict[int, dict]) -> list[Migration]:
    """The migrations still to run, after checking that the applied ones are these very files."""
    known = {m.version: m for m in migrations}
    for version, row in sorted(applied.items()):
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {row['name']}, which this version of Switchboard"
                " does not know: it was migrated by a newer version; run that one")
        if migration.checksum != row["checksum"]:
            raise MigrationError(
                f"migration {migration.name} was changed after it was applied: restore the"
                " file and put the change in a new migration")
    return [m for m in migrations if m.version not in applied]


async def _applied(conn: AsyncConnection[Any]) -> dict[int, dict]:
    """version -> {name, checksum} of the migrations recorded (none on a new database)."""
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        if not required(await cursor.fetchone())["present"]:
            return {}
        await cursor.execute("SELECT version, name, checksum FROM schema_migrations")
        return {row["version"]: row for row in await cursor.fetchall()}


@asynccontextmanager
async def _advisory_lock(conn: AsyncConnection[Any]) -> AsyncIterator[None]:
    """One migrating process at a time, across processes and machines. Asked again and again,
    as server.database.setup_lock does, rather than waited for in one statement: a waiting
    statement holds a snapshot that a CREATE INDEX CONCURRENTLY elsewhere would wait for."""
    async with conn.cursor(row_factory=dict_row) as cursor:
        while True:
            await cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s)) AS taken", (LOCK,))
            if required(await cursor.fetchone())["taken"]:
                break
            await asyncio.sleep(0.1)  # another process is migrating
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (LOCK,))


async def migrate_pool(pool: Pool) -> list[str]:
    """`migrate` on one of the pool's connections: what a command that opens its own pool calls
    (the composition root, server/composition.py `open_database`, calls it under the setup lock)."""
    async with pool.connection() as conn:
        return await migrate(conn)
