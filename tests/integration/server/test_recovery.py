"""Fast recovery: Redis down and back, Redis back without its data, a dead worker, a backlog."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from graph.base.settings import ModelSettings, WorkerSettings
from server.inbound.scheduler import DUE
from tests.integration.server.conftest import text_message
from tests.model_stub import ModelStub

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
QUESTION = "how long do refunds take?"


def phones(n: int) -> list[str]:
    return ["4475" + str(uuid.uuid4().int)[:8] for _ in range(n)]


async def replied(server, numbers: list[str], within_s: float) -> list[dict]:
    return await server.wait_for(
        "SELECT DISTINCT conversation_key FROM outbox WHERE conversation_key = ANY(%s)"
        " AND kind = 'text' AND status IN ('sent', 'delivered', 'read')", numbers,
        count=len(numbers), within_s=within_s)


async def test_redis_down_webhooks_stored_and_answered_when_it_is_back(start_server, redis_server,
                                                                        caplog):
    server = await start_server(redis_url=SecretStr(redis_server.url), debounce_s=0.2)
    caplog.set_level(logging.INFO)
    redis_server.stop()
    numbers = phones(3)
    for phone in numbers:  # still acknowledged: Postgres has them
        assert (await server.post_meta(text_message(phone, QUESTION))).status_code == 200
    ready = await server.http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["redis"].startswith("error")
    await asyncio.sleep(2.0)  # many worker loops with Redis away
    outage = [r for r in caplog.records if r.name.startswith("server")]
    assert not [r for r in outage if r.exc_info], "a traceback was logged for an outage"
    paused = [r for r in outage if "unavailable" in r.getMessage()]
    assert 1 <= len(paused) <= 5, [r.getMessage() for r in paused]  # one per loop, not per pass

    redis_server.start()  # back, and empty
    started = time.monotonic()
    assert len(await replied(server, numbers, within_s=20)) == 3
    assert time.monotonic() - started < 10
    assert any("resumed" in r.getMessage() for r in caplog.records)
    assert (await server.http.get("/readyz")).status_code == 200


async def test_redis_back_without_its_data_reschedules_from_postgres(start_server, redis_server):
    server = await start_server(run_workers=False, redis_url=SecretStr(redis_server.url),
                                debounce_s=0.2)
    numbers = phones(3)
    for phone in numbers:
        assert (await server.post_meta(text_message(phone, QUESTION))).status_code == 200
    assert await server.parts.redis.zcard(DUE) >= 3
    redis_server.stop()
    redis_server.start()  # restarted without its data: the schedule is gone
    assert await server.parts.redis.zcard(DUE) == 0
    server.parts.start_workers()
    started = time.monotonic()
    assert len(await replied(server, numbers, within_s=20)) == 3
    assert time.monotonic() - started < 10


async def test_a_dead_workers_conversation_resumes_within_20_s(start_server, data_dir,
                                                                database_url):
    """With the default lease: the worker is killed mid-turn, another finishes the turn."""
    server = await start_server(run_workers=False, debounce_s=0.1)
    assert server.parts.settings.turn_lease_s <= 10
    from server.redis_client import redis_url

    phone = phones(1)[0]
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(data_dir),
           "REDIS_URL": redis_url(server.parts.settings), "DEBOUNCE_S": "0.1",
           "META__GRAPH_URL": f"{server.url}/fake-graph"}
    worker = subprocess.Popen([sys.executable, "-m", "tests.integration.server.slow_worker"],  # noqa: ASYNC220
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    try:
        await server.post_meta(text_message(phone, QUESTION))
        claimed = await server.wait_for("SELECT 1 FROM inbound_messages WHERE conversation_key = %s"
                                        " AND state = 'in_turn'", phone, within_s=60)
        assert claimed, "the slow worker never took the turn"
        server.parts.start_workers()  # a healthy worker is already running when the other dies
        await asyncio.sleep(1.0)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.communicate()
    killed = time.monotonic()
    assert await replied(server, [phone], within_s=30)
    assert time.monotonic() - killed < 20


async def test_a_burst_is_one_turn_even_under_backlog(start_server):
    """One turn at a time and a slow model, so conversations wait long past their due time;
    their customers start writing again meanwhile. A worker must never take a conversation
    in the middle of such a burst: every burst's messages are answered in one turn."""
    with ModelStub(delay_s=0.3) as stub:
        model = ModelSettings(model="stub", base_url=stub.url, api_key="unused", max_retries=0)
        server = await start_server(debounce_s=0.4, worker=WorkerSettings(concurrency=1),
                                    router=model, agent=model)
        numbers = phones(6)
        for phone in numbers:  # due in 0.4 s; served one after another, ~0.7 s each
            await server.post_meta(text_message(phone, "hello, a question"))
        await asyncio.sleep(1.2)
        burst = [f"{QUESTION} ({i})" for i in range(8)]  # 1.4 s of messages 0.2 s apart
        for text in burst:
            await asyncio.gather(*(server.post_meta(text_message(p, text)) for p in numbers))
            await asyncio.sleep(0.2)
        await server.wait_for("SELECT 1 FROM inbound_messages WHERE conversation_key = ANY(%s)"
                              " AND state = 'done'", numbers, count=len(numbers) * 9, within_s=60)
        rows = await server.rows("SELECT conversation_key, turn_key FROM inbound_messages"
                                 " WHERE conversation_key = ANY(%s) AND body LIKE %s", numbers,
                                 f"{QUESTION} (%")
    by_conversation: dict[str, set[str]] = {}
    for row in rows:
        by_conversation.setdefault(row["conversation_key"], set()).add(row["turn_key"])
    assert len(rows) == len(numbers) * len(burst)
    split = {k: v for k, v in by_conversation.items() if len(v) > 1}
    assert not split, f"bursts answered in several turns: {split}"


async def test_postgres_down_answers_503_and_workers_back_off_quietly(start_server, database_url,
                                                                       caplog):
    from tests.integration.server.tcp_door import TcpDoor

    door = await TcpDoor.before_postgres(database_url)
    server = await start_server(server_options={"database_url": door.postgres_url(database_url)})
    caplog.set_level(logging.INFO)
    await door.shut()  # Postgres is gone for this server
    phone = phones(1)[0]
    message = text_message(phone, QUESTION)
    assert (await server.post_meta(message)).status_code == 503  # the provider retries it
    assert (await server.http.get("/readyz")).status_code == 503
    await asyncio.sleep(8.0)  # worker loops keep running meanwhile (a pool waits 5 s)
    ours = [r for r in caplog.records if r.name.startswith("server")]
    assert not [r for r in ours if r.exc_info], [r.getMessage() for r in ours if r.exc_info]
    paused = [r for r in ours if "Postgres unavailable" in r.getMessage()]
    assert 1 <= len(paused) <= 4, [r.getMessage() for r in paused]  # once per loop, not per pass

    await door.open()  # back
    deadline = time.monotonic() + 20
    while (status := (await server.post_meta(message)).status_code) != 200:  # the retry lands
        assert time.monotonic() < deadline, f"webhook still answered {status}"
        await asyncio.sleep(0.5)
    assert await replied(server, [phone], within_s=20)
    await door.shut()
