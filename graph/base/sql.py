"""The types every module that talks to PostgreSQL takes (opening the pool is the server's job:
server/database.py)."""

from __future__ import annotations

from typing import TypeAlias

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

Conn: TypeAlias = AsyncConnection[DictRow]
"""A connection of the pool: rows come back as dicts."""
Pool: TypeAlias = AsyncConnectionPool[Conn]
"""The process's connection pool; the one type every module that talks to PostgreSQL takes."""


def required(row: DictRow | None) -> DictRow:
    """The row of a query that always returns one (an aggregate, INSERT ... RETURNING after an
    upsert, SELECT of an expression); its absence is a bug, said here rather than as a
    TypeError further on."""
    if row is None:
        raise RuntimeError("the query returned no row")
    return row
