"""/readyz reports the outbox: failed and unknown deliveries of the last 24 hours and the open
backlog, without ever flipping readiness for it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from server import outbox
from tests.integration.server.console.conftest import new_phone

pytestmark = pytest.mark.integration
TEMPLATE = {"name": "order_update_v1", "language": "en"}


async def test_readyz_counts_failed_unknown_and_stuck_rows(start_server):
    server = await start_server(run_workers=False)  # nothing sends: rows stay where put
    before = (await server.http.get("/readyz")).json()["outbox"]
    assert set(before) == {"failed_24h", "unknown_24h", "pending", "oldest_pending_s"}

    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    ids = []
    async with server.parts.pool.connection() as conn, conn.transaction():
        for _ in range(4):
            phone = new_phone()
            ids += await outbox.enqueue_reply(
                conn, conversation_key=phone, recipient=phone, provider="meta", texts=["Hi"],
                idempotency_key=f"test-{uuid.uuid4()}", last_customer_at=long_ago, now=long_ago,
                window_template=TEMPLATE)
    await server.rows("UPDATE outbox SET status = 'failed', updated_at = now() WHERE id = %s"
                      " RETURNING id", ids[0])
    await server.rows("UPDATE outbox SET status = 'unknown', updated_at = now() WHERE id = %s"
                      " RETURNING id", ids[1])
    await server.rows("UPDATE outbox SET status = 'failed', updated_at = now() - interval '25 hours'"
                      " WHERE id = %s RETURNING id", ids[2])  # too old to count
    response = await server.http.get("/readyz")
    assert response.status_code == 200 and response.json()["ready"] is True  # reported, not flipped
    after = response.json()["outbox"]
    assert after["failed_24h"] == before["failed_24h"] + 1
    assert after["unknown_24h"] == before["unknown_24h"] + 1
    assert after["pending"] == before["pending"] + 1
    assert after["oldest_pending_s"] >= 600
    await server.rows("DELETE FROM outbox WHERE id = ANY(%s) RETURNING id", ids)
