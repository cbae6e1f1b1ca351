"""The report's integration tests: the real Postgres, migrated, with opaque ids set up."""

from __future__ import annotations

import pytest

from server import conversation_ids
from server.database import open_pool
from server.migrations import migrate


@pytest.fixture(scope="module")
async def pool(settings, database_url):
    pool = await open_pool(settings, database_url, max_size=4)
    async with pool.connection() as conn:
        await migrate(conn)
        await conversation_ids.setup(conn)
    yield pool
    await pool.close()
