"""With models that hang, every customer still gets an answer or a handoff within the turn's
model deadline, however many write at once; the open breakers show in /readyz."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from graph.base.settings import Settings
from tests.integration.server.conftest import text_message

pytestmark = pytest.mark.integration

DEADLINE_S = 2.0
MARGIN_S = 1.0
"""Room for the rest of a turn (Postgres, Chroma, the graph) on a busy test machine."""
CUSTOMERS = 20
CROWD = 100
"""Customers writing at once into one process in the crowd test: what one event loop clears, with room to spare,
with the offline brain in the 10 s left after the breaker opens, on these 2-core machines (200
took 18-20 s on 2026-12-04 at this and at the previous release alike: the machines vary)."""


@pytest.fixture(scope="module")
def hanging_openai():
    """A real HTTP server that accepts OpenAI-style calls and never answers them."""
    released = threading.Event()

    class Hang(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("content-length", 0)))
            released.wait()  # until the test module ends; the client gives up long before

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hang)  # port 0: bound at once, no race
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    released.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def hanging_models(hanging_openai, monkeypatch) -> dict:
    """Settings overrides for router and agent on the hanging server, as the environment sets them."""
    for role in ("ROUTER", "AGENT"):
        monkeypatch.setenv(f"{role}__MODEL", "gpt-test")
        monkeypatch.setenv(f"{role}__BASE_URL", hanging_openai)
    monkeypatch.setenv("MODEL_GUARD__DEADLINE_S", str(DEADLINE_S))
    monkeypatch.setenv("MODEL_GUARD__BREAKER_FAILURES", "3")
    configured = Settings(_env_file=None)
    return {"router": configured.router, "agent": configured.agent,
            "model_guard": configured.model_guard}


async def timed_turn(conversations, phone: str, text: str, delay_s: float = 0):
    await asyncio.sleep(delay_s)
    started = time.monotonic()
    turn = await conversations.handle(phone, text)
    return turn, time.monotonic() - started


async def test_hanging_models_cost_each_customer_at_most_the_deadline(start_server, hanging_models):
    server = await start_server(run_workers=False, **hanging_models)
    conversations = server.parts.core.conversations
    phones = ["4476" + str(uuid.uuid4().int)[:8] for _ in range(CUSTOMERS)]

    # Everyone at once: the router hangs for all of them; past the deadline the brain answers.
    first = await asyncio.gather(*(timed_turn(conversations, p, "how long do refunds take?")
                                   for p in phones))
    for turn, elapsed in first:
        assert elapsed < DEADLINE_S + MARGIN_S
        assert "5-7 working days" in turn.replies[0]
        assert turn.state["fallbacks"]
        assert set(turn.state["fallbacks"]) <= {"turn 1: deadline", "turn 1: breaker_open"}
    ready = await server.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["models"]["router"] == "open"

    # Router open: its calls go straight to the brain and the agent gets the whole deadline,
    # which it spends hanging. The second half writes a second later: when the first half's
    # failures open the agent's breaker their calls are abandoned, not waited out.
    second = await asyncio.gather(*(timed_turn(conversations, p, "can I return a sofa?",
                                               delay_s=1.0 if i >= CUSTOMERS // 2 else 0)
                                    for i, p in enumerate(phones)))
    for i, (turn, elapsed) in enumerate(second):
        # A call waited out takes the whole deadline: the second half's were cut short.
        assert elapsed < (DEADLINE_S if i >= CUSTOMERS // 2 else DEADLINE_S + MARGIN_S)
        assert turn.replies or turn.handoff
        this_turn = [f for f in turn.state["fallbacks"] if f.startswith("turn 2: ")]
        assert this_turn[0] == "turn 2: breaker_open"  # the router's
        if i >= CUSTOMERS // 2:  # the agent's call was abandoned when its breaker opened
            assert set(this_turn) == {"turn 2: breaker_open"}
    ready = await server.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["models"] == {"router": "open", "agent": "open"}

    # Both open: nobody waits on a model at all.
    third = await asyncio.gather(*(timed_turn(conversations, p, "how long do refunds take?")
                                   for p in phones))
    for turn, elapsed in third:
        assert elapsed < MARGIN_S and (turn.replies or turn.handoff)
        this_turn = [f for f in turn.state["fallbacks"] if f.startswith("turn 3: ")]
        assert this_turn and set(this_turn) == {"turn 3: breaker_open"}


async def test_readyz_names_the_offline_brain_when_no_model_is_configured(start_server):
    server = await start_server(run_workers=False)
    ready = await server.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["models"] == {"router": "offline", "agent": "offline"}


async def test_a_crowd_writing_to_a_hanging_model_is_answered_within_15_s(start_server, hanging_openai,
                                                                         caplog):
    """The issue's goal, through webhooks and the worker, at the product's default deadline
    (10 s): CROWD customers at once into one process, every one answered or handed off within
    15 s of its debounce. (The slow calls open the breaker after 5 s; then one process serves
    some tens of turns a second with the offline brain, so a crowd it can clear in the 10 s
    left is what one process can promise; more processes, more customers.)"""
    from graph.base.settings import ModelSettings

    model = ModelSettings(model="gpt-test", base_url=hanging_openai, api_key="unused")
    server = await start_server(debounce_s=0.5, router=model, agent=model)
    phones = ["4474" + str(uuid.uuid4().int)[:8] for _ in range(CROWD)]
    for i in range(0, len(phones), 50):
        await asyncio.gather(*(server.post_meta(text_message(p, "how long do refunds take?"))
                               for p in phones[i:i + 50]))
    rows = await server.wait_for(
        "SELECT m.conversation_key, extract(epoch FROM o.created_at - m.received_at)::float AS after"
        " FROM inbound_messages m JOIN turns t ON t.turn_key = m.turn_key"
        " JOIN outbox o ON o.idempotency_key = t.turn_key || ':0'"
        " WHERE m.conversation_key = ANY(%s)", phones, count=len(phones), within_s=60)
    assert len(rows) == len(phones)
    slowest = max(r["after"] for r in rows) - 0.5  # from the end of the debounce
    assert slowest <= 15, f"the last customer waited {slowest:.1f} s after the debounce"
    outcomes = await server.rows("SELECT DISTINCT outcome FROM turns WHERE conversation_key = ANY(%s)",
                                 phones)
    assert {o["outcome"] for o in outcomes} <= {"replied", "handoff"}
    failures = [r for r in caplog.records if "offline brain takes over" in r.getMessage()]
    assert len(failures) < 10, f"{len(failures)} lines for one outage"  # then the breaker's one
