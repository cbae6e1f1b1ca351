"""The scheduler on a real Redis and Postgres: take re-checks the due time, one holder per
conversation, heartbeats, dead holders reaped, lost data noticed."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from server.database import open_pool
from server.inbound.lease import RUNNING, heartbeat, next_fences
from server.inbound.scheduler import DUE, Scheduler
from server.redis_client import open_redis

pytestmark = pytest.mark.integration


@pytest.fixture
async def scheduler(redis_server):
    redis = open_redis(redis_server.url)
    yield Scheduler(redis, lease_s=1.0)
    await redis.aclose()


@pytest.fixture
async def conn(settings, database_url):
    """Fences from the Postgres sequence, as the worker draws them."""
    from server.migrations import migrate

    pool = await open_pool(settings, database_url, max_size=2)
    async with pool.connection() as connection:
        await migrate(connection)

        async def fences(n: int) -> list[int]:
            return await next_fences(connection, n)
        yield fences
    await pool.close()


def key() -> str:
    return "sched-" + uuid.uuid4().hex[:8]


async def test_a_conversation_whose_burst_went_on_is_not_taken(scheduler, conn):
    conversation, now = key(), time.time()
    await scheduler.mark_due(conversation, now - 1)
    assert [k for k, _ in await scheduler.due(now)] == [conversation]  # a worker lists it...
    await scheduler.mark_due(conversation, now + 3)  # ...and the customer writes again
    assert (await scheduler.take(conn, 10, now)).leases == []
    later = (await scheduler.take(conn, 10, now + 3)).leases
    assert [lease.conversation_key for lease in later] == [conversation]


async def test_one_holder_at_a_time_and_messages_during_a_turn_wait_for_the_next(scheduler, conn):
    conversation, now = key(), time.time()
    await scheduler.mark_due(conversation, now)
    (lease,) = (await scheduler.take(conn, 10, now)).leases
    await scheduler.mark_due(conversation, now)  # a message arrives while the turn runs
    assert (await scheduler.take(conn, 10, now + 0.5)).leases == []  # still held
    assert await scheduler.leases.finish(lease)
    (second,) = (await scheduler.take(conn, 10, now + 1)).leases
    assert second.fence > lease.fence  # fences keep growing


async def test_heartbeat_keeps_a_lease_and_reports_one_taken_over(scheduler, conn):
    conversation, now = key(), time.time()
    await scheduler.mark_due(conversation, now)
    (lease,) = (await scheduler.take(conn, 10, now)).leases
    assert await scheduler.leases.renew([lease]) == set()
    await scheduler.redis.set(f"switchboard:lease:{conversation}", "someone-else")
    assert await scheduler.leases.renew([lease]) == {conversation}
    assert not await scheduler.leases.finish(lease)  # not ours any more: nothing released


async def test_the_heartbeat_keeps_a_lease_past_its_time_until_another_worker_holds_it(
        scheduler, conn):
    conversation = key()
    await scheduler.mark_due(conversation, time.time())
    (lease,) = (await scheduler.take(conn, 10)).leases
    lost: list[str] = []
    beating = asyncio.create_task(heartbeat(scheduler.leases, lambda: [lease], lost.append))
    try:
        await asyncio.sleep(1.5)  # longer than the 1 s lease
        assert await scheduler.redis.get(f"switchboard:lease:{conversation}") == lease.token
        await scheduler.redis.set(f"switchboard:lease:{conversation}", "someone-else")
        for _ in range(100):
            if lost:
                break
            await asyncio.sleep(0.02)
        assert lost == [conversation]
    finally:
        beating.cancel()


async def test_a_dead_holder_is_reaped_and_its_conversation_due_again(scheduler, conn):
    conversation, now = key(), time.time()
    await scheduler.mark_due(conversation, now)
    await scheduler.take(conn, 10, now)
    await scheduler.redis.delete(f"switchboard:lease:{conversation}")  # the lease ran out
    await scheduler.leases.reap(now + 2)
    assert await scheduler.redis.zscore(RUNNING, conversation) is None
    assert [k for k, _ in await scheduler.due(now + 2)] == [conversation]


async def test_reschedule_leaves_running_conversations_to_their_worker(scheduler, conn):
    running, waiting, now = key(), key(), time.time()
    await scheduler.mark_due(running, now)
    await scheduler.take(conn, 10, now)
    assert await scheduler.reschedule({running: now, waiting: now}) == 1
    assert await scheduler.redis.zscore(DUE, running) is None
    assert await scheduler.redis.zscore(DUE, waiting) == pytest.approx(now)


async def test_lost_data_is_noticed_once(scheduler, conn):
    assert (await scheduler.take(conn, 10)).lost_data  # a new Redis
    assert not (await scheduler.take(conn, 10)).lost_data
    await scheduler.redis.flushall()  # restarted without its data
    assert (await scheduler.take(conn, 10)).lost_data


async def test_take_is_bounded(scheduler, conn):
    now = time.time()
    conversations = [key() for _ in range(5)]
    await scheduler.mark_due_many(conversations, now)
    assert len((await scheduler.take(conn, 3, now)).leases) == 3
    assert len((await scheduler.take(conn, 3, now)).leases) == 2
