"""Helpers for tests of identity checks: a clock of their own, and the attempts they recorded.

The verification ledger counts failures in time windows across every conversation, so each
test runs its turns on a clock that starts after every attempt already recorded: counters start
empty however often the suite runs against the same database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from psycopg_pool import AsyncConnectionPool

Clock = Callable[..., datetime]


async def fresh_clock(pool: AsyncConnectionPool) -> Clock:
    """clock(minutes=0, seconds=0): a time on a timeline no earlier test has used."""
    async with pool.connection() as conn:
        row = await (await conn.execute(
            "SELECT coalesce(max(at), now()) AS latest FROM verification_attempts")).fetchone()
    start = max(row["latest"], datetime.now(UTC)) + timedelta(days=1)

    def clock(minutes: float = 0, seconds: float = 0) -> datetime:
        return start + timedelta(minutes=minutes, seconds=seconds)
    return clock


def new_phone() -> str:
    return "4479" + uuid.uuid4().hex[:8].translate(str.maketrans("abcdef", "123456"))


async def attempts(pool: AsyncConnectionPool, since: datetime) -> list[dict]:
    async with pool.connection() as conn:
        return await (await conn.execute(
            "SELECT * FROM verification_attempts WHERE at >= %s ORDER BY id", (since,))).fetchall()
