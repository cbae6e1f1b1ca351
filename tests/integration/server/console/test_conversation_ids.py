"""Opaque ids on the real Postgres: one secret for every process, and the database's trigger
computes the same ref as Python, whoever inserts the desk row."""

from __future__ import annotations

import pytest

from server import conversation_ids
from server.database import open_pool
from server.migrations import migrate
from tests.integration.server.console.conftest import new_phone

pytestmark = pytest.mark.integration


async def test_the_trigger_and_python_agree_and_the_secret_is_made_once(settings, database_url):
    pool = await open_pool(settings, database_url, max_size=2)
    try:
        async with pool.connection() as conn:
            await migrate(conn)
            await conversation_ids.setup(conn)
            first = conversation_ids.ref("447700900101")
            await conversation_ids.setup(conn)  # another process starting: the same secret
            assert conversation_ids.ref("447700900101") == first
            keys = [new_phone(), "bsuid:US.x" + new_phone(), "ünïcode-" + new_phone()]
            for key in keys:  # a raw insert, as any code path might do it
                await conn.execute("INSERT INTO desk_conversations (key) VALUES (%s)", (key,))
            rows = await (await conn.execute(
                "SELECT key, ref FROM desk_conversations WHERE key = ANY(%s)", (keys,))).fetchall()
            assert {r["key"]: r["ref"] for r in rows} == {k: conversation_ids.ref(k) for k in keys}
            await conn.execute("DELETE FROM desk_conversations WHERE key = ANY(%s)", (keys,))
    finally:
        await pool.close()
