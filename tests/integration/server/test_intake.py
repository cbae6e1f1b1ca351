"""Group commit on real Postgres and Redis: concurrent webhooks share transactions, and each is
still answered for itself."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from server import outbox
from server.channels import meta
from server.channels.models import WebhookBatch
from server.inbound import inbox
from server.inbound.intake import Intake, StorageUnavailable
from server.inbound.scheduler import DUE, Scheduler
from tests.integration.server.conftest import text_message

pytestmark = pytest.mark.integration


def batch_for(phone: str, text: str = "where is my order?", message_id: str | None = None) -> WebhookBatch:
    return meta.parse_webhook(text_message(phone, text, message_id=message_id))


PHONES: list[str] = []


def new_phone() -> str:
    PHONES.append("4478" + str(uuid.uuid4().int)[:8])
    return PHONES[-1]


@pytest.fixture
async def parts(start_server):
    parts = (await start_server(run_workers=False)).parts
    yield parts
    # No worker runs here: leave nothing due for the next test's workers to pick up.
    if PHONES:
        await parts.redis.zrem(DUE, *PHONES)
        async with parts.pool.connection() as conn:
            await conn.execute("UPDATE inbound_messages SET state = 'skipped'"
                               " WHERE conversation_key = ANY(%s)", (PHONES,))
        PHONES.clear()


@pytest.fixture
def intake(parts):
    return parts.intake


@pytest.fixture
def pool(parts):
    return parts.pool


@pytest.fixture
def redis(parts):
    return parts.redis


async def stored_ids(pool, phones: list[str]) -> list[str]:
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            "SELECT provider_message_id FROM inbound_messages WHERE conversation_key = ANY(%s)",
            (phones,))).fetchall()
    return [row["provider_message_id"] for row in rows]


async def test_concurrent_webhooks_share_transactions_and_all_are_stored(intake, pool, redis, monkeypatch):
    statements = []
    original = inbox.store_many

    async def counting_store_many(conn, messages):
        statements.append(len(messages))
        return await original(conn, messages)

    monkeypatch.setattr(inbox, "store_many", counting_store_many)
    phones = [new_phone() for _ in range(40)]
    batches = [batch_for(phone) for phone in phones]
    results = await asyncio.gather(*(intake.accept(batch) for batch in batches))

    assert [r.as_dict() for r in results] == [{"stored": 1, "duplicates": 0, "statuses": 0}] * 40
    assert sorted(await stored_ids(pool, phones)) == sorted(
        b.messages[0].provider_message_id for b in batches)
    assert sum(statements) == 40 and len(statements) < 40  # grouped, not one per webhook
    assert all(score is not None for score in await redis.zmscore(DUE, phones))


async def test_a_retry_in_the_same_group_is_a_duplicate(intake, pool):
    phone = new_phone()
    batch = batch_for(phone, message_id=f"wamid.{uuid.uuid4().hex}")
    first, second = await asyncio.gather(intake.accept(batch), intake.accept(batch))
    assert sorted([first.stored, second.stored]) == [0, 1]
    assert sorted([first.duplicates, second.duplicates]) == [0, 1]
    assert len(await stored_ids(pool, [phone])) == 1


async def test_one_failing_webhook_does_not_fail_its_neighbours(intake, pool, monkeypatch):
    original = outbox.apply_status

    async def broken_for_one(conn, status):
        if status.provider_message_id == "wamid.poison":
            raise ValueError("a bug in status handling")
        return await original(conn, status)

    monkeypatch.setattr(outbox, "apply_status", broken_for_one)
    poison = meta.parse_webhook({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp", "metadata": {
            "display_phone_number": "1", "phone_number_id": "1"}, "statuses": [{
                "id": "wamid.poison", "status": "delivered", "timestamp": "1700000000",
                "recipient_id": "447700900000"}]}}]}]})
    phones = [new_phone() for _ in range(5)]
    results = await asyncio.gather(intake.accept(poison), *(intake.accept(batch_for(p)) for p in phones),
                                   return_exceptions=True)

    assert isinstance(results[0], ValueError)
    assert [r.stored for r in results[1:]] == [1] * 5
    assert len(await stored_ids(pool, phones)) == 5


async def test_a_cancelled_request_keeps_its_message_and_others_are_answered(intake, pool):
    phones = [new_phone() for _ in range(3)]
    tasks = [asyncio.create_task(intake.accept(batch_for(p))) for p in phones]
    await asyncio.sleep(0)  # all three are waiting on the group
    tasks[0].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert [r.stored for r in results[1:]] == [1, 1]
    # Stored though never acknowledged: the provider's retry will be a duplicate.
    assert len(await stored_ids(pool, phones)) == 3


async def test_postgres_unavailable_fails_every_webhook_of_the_group(pool, redis, database_url):
    from psycopg_pool import AsyncConnectionPool

    closed = AsyncConnectionPool(database_url, open=False)
    intake = Intake(closed, Scheduler(redis, lease_s=30), debounce_s=3, wait_s=0.2)
    results = await asyncio.gather(*(intake.accept(batch_for(new_phone())) for _ in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, StorageUnavailable) for r in results)
