"""One turn at a time per conversation across workers, and a killed worker's turn finished once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from server.inbound.worker import TurnWorker
from server.redis_client import redis_url
from tests.fakes import ScriptedChatModel, reply
from tests.integration.server.conftest import text_message

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def slow_reply(messages, tools):
    time.sleep(0.15)  # runs in LangChain's executor thread, so turns really overlap
    return reply("Noted.", confidence=0.9)


async def test_concurrent_deliveries_run_one_turn_at_a_time(start_server):
    agent = ScriptedChatModel(steps=[slow_reply], repeat_last=True)
    server = await start_server(run_workers=False, debounce_s=0.05,
                                server_options={"agent_model": agent})
    runtime, phone = server.parts, "4478" + str(uuid.uuid4().int)[:8]
    conversations = runtime.core.conversations
    running, peak, turns = 0, 0, 0
    original = conversations.handle

    async def counting_handle(*args, **kwargs):
        nonlocal running, peak, turns
        if args[0] != phone:  # another test's leftover conversation, due in the shared Redis
            return await original(*args, **kwargs)
        running += 1
        peak, turns = max(peak, running), turns + 1
        try:
            return await original(*args, **kwargs)
        finally:
            running -= 1

    conversations.handle = counting_handle
    workers = [TurnWorker(runtime.pool, runtime.scheduler, conversations, runtime.settings)
               for _ in range(3)]
    tasks = [asyncio.create_task(w.run_forever(runtime.stop, idle_s=0.01)) for w in workers]
    try:
        async def deliver(i: int) -> int:
            await asyncio.sleep(i * 0.12)  # spread over several debounce windows
            return (await server.post_meta(text_message(phone, f"question {i} about my sofa"))).status_code
        assert await asyncio.gather(*(deliver(i) for i in range(10))) == [200] * 10
        done = await server.wait_for("SELECT 1 FROM inbound_messages WHERE conversation_key = %s"
                                     " AND state = 'done'", phone, count=10, within_s=30)
    finally:
        runtime.stop.set()
        await asyncio.gather(*tasks)
    assert len(done) == 10
    assert peak == 1  # never two turns of one conversation at once
    assert turns >= 2  # the deliveries did compete: more than one turn ran
    state = await conversations.state(phone)
    humans = [m.content for m in state["messages"] if m.type == "human"]
    assert sorted(humans) == sorted(f"question {i} about my sofa" for i in range(10))
    assert state["turn"] == turns


async def _until_said(process: subprocess.Popen, marker: str, within_s: float) -> list[str]:
    """The lines a process printed until one holds `marker` (or the time is up): a loaded
    machine may take seconds to get there, a fixed sleep would kill it too early."""
    seen: list[str] = []

    async def read() -> None:
        while line := await asyncio.to_thread(process.stdout.readline):
            seen.append(line)
            if marker in line:
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(read(), within_s)
    return seen


async def test_worker_killed_mid_turn_still_replies_exactly_once(start_server, data_dir, database_url):
    server = await start_server(run_workers=False, turn_lease_s=1.0, debounce_s=0.1)
    runtime, phone = server.parts, "4477" + str(uuid.uuid4().int)[:8]
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(data_dir),
           "REDIS_URL": redis_url(runtime.settings), "TURN_LEASE_S": "1.0", "DEBOUNCE_S": "0.1",
           "META__GRAPH_URL": f"{server.url}/fake-graph"}
    worker = subprocess.Popen([sys.executable, "-m", "tests.integration.server.slow_worker"],  # noqa: ASYNC220
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    try:
        await server.post_meta(text_message(phone, "how long do refunds take?"))
        claimed = await server.wait_for("SELECT turn_key FROM inbound_messages WHERE"
                                        " conversation_key = %s AND state = 'in_turn'", phone,
                                        within_s=60)
        assert claimed, "the slow worker never took the turn"
        said = await _until_said(worker, "agent called: hanging", within_s=30)  # inside the hanging call
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        output = "".join(said) + worker.communicate()[0]
    assert "agent called: hanging" in output

    runtime.start_workers()  # a healthy worker and the outbox sender, in this process
    replies = await server.wait_for("SELECT idempotency_key, status FROM outbox WHERE conversation_key = %s"
                                    " AND kind = 'text' AND status IN ('sent', 'delivered', 'read')",
                                    phone, within_s=30)
    await asyncio.sleep(1.5)  # room for a wrong second send
    replies = await server.rows("SELECT idempotency_key FROM outbox WHERE conversation_key = %s"
                                " AND kind = 'text'", phone)
    assert [r["idempotency_key"] for r in replies] == [f"{claimed[0]['turn_key']}:0"]
    sent = [m for m in server.fake_cloud_api.sent if m["to"] == phone and m["type"] == "text"]
    assert len(sent) == 1 and "5-7 working days" in sent[0]["text"]
    state = await runtime.core.conversations.state(phone)
    assert [m.content for m in state["messages"] if m.type == "human"] == ["how long do refunds take?"]
