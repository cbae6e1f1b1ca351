"""A worker killed at any point of a turn: the customer still gets exactly one reply.

Each case runs a real worker process that kills itself (os._exit) at one point: after a node's
writes were saved but before its checkpoint, after a checkpoint, inside the commit, after it.
Then a healthy worker takes the conversation over, on the same Postgres and Redis.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from server.redis_client import redis_url
from tests.integration.server.conftest import text_message
from tests.integration.server.crash_worker import CRASH_CODE

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
QUESTION = "how long do refunds take?"
# The path of this question: input_guardrail, router, authenticate, retrieve, agent,
# output_guardrail, respond.
CASES = [
    *[("async", f"writes:{node}") for node in (
        "input_guardrail", "router", "authenticate", "retrieve", "agent", "output_guardrail",
        "respond")],
    ("async", "checkpoint:3"),
    ("async", "commit"),
    ("exit", "checkpoint:1"),  # the one checkpoint of the turn is saved, the commit never runs
    ("exit", "commit"),
    ("exit", "after_commit"),
]


@pytest.mark.parametrize(("durability", "crash_at"), CASES, ids=[f"{d}-{c}" for d, c in CASES])
async def test_a_crash_is_followed_by_exactly_one_reply(start_server, data_dir, database_url,
                                                        durability, crash_at):
    server = await start_server(run_workers=False, turn_lease_s=1.0, debounce_s=0.1,
                                turn_durability=durability)
    runtime, phone = server.parts, "4476" + str(uuid.uuid4().int)[:8]
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(data_dir),
           "REDIS_URL": redis_url(runtime.settings), "TURN_LEASE_S": "1.0", "DEBOUNCE_S": "0.1",
           "TURN_DURABILITY": durability, "CRASH_AT": crash_at, "RUN_SLA_WATCHER": "false",
           "META__GRAPH_URL": f"{server.url}/fake-graph"}
    crashing = subprocess.Popen([sys.executable, "-m", "tests.integration.server.crash_worker"],  # noqa: ASYNC220
                                cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    try:
        await wait_until_ready(crashing)
        assert (await server.post_meta(text_message(phone, QUESTION))).status_code == 200
        code = await asyncio.to_thread(crashing.wait, 60)
    finally:
        crashing.kill()
    output = crashing.stdout.read()
    assert code == CRASH_CODE, f"the worker never reached {crash_at}:\n{output[-3000:]}"

    runtime.start_workers()  # a healthy worker and the outbox sender, in this process
    await server.wait_for("SELECT 1 FROM outbox WHERE conversation_key = %s AND kind = 'text'"
                          " AND status IN ('sent', 'delivered', 'read')", phone, within_s=30)
    await asyncio.sleep(1.0)  # room for a wrong second reply
    replies = await server.rows("SELECT body FROM outbox WHERE conversation_key = %s"
                                " AND kind = 'text'", phone)
    assert len(replies) == 1 and "5-7 working days" in replies[0]["body"]
    sent = [m for m in server.fake_cloud_api.sent if m["to"] == phone and m["type"] == "text"]
    assert len(sent) == 1
    turns = await server.rows("SELECT outcome, messages FROM turns WHERE conversation_key = %s", phone)
    assert turns == [{"outcome": "replied", "messages": 1}]
    state = await runtime.core.conversations.state(phone)
    assert [m.content for m in state["messages"] if m.type == "human"] == [QUESTION]
    assert state["turn"] == 1


async def wait_until_ready(process: subprocess.Popen, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        line = await asyncio.to_thread(process.stdout.readline)
        if "crash worker ready" in line:
            return
        if not line and process.poll() is not None:
            break
    pytest.fail("the crash worker did not start")
