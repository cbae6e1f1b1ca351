"""Many conversations at once against a slow model: their turns overlap, nobody waits in line."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from graph.base.settings import ModelSettings, WorkerSettings
from tests.integration.server.conftest import text_message
from tests.model_stub import ModelStub

pytestmark = pytest.mark.integration


def model_settings(url: str) -> dict:
    model = ModelSettings(model="stub", base_url=url, api_key="unused", max_retries=0)
    return {"router": model, "agent": model}


async def test_a_slow_model_delays_no_other_conversation(start_server):
    with ModelStub(delay_s=1.0) as stub:
        server = await start_server(debounce_s=0.2, **model_settings(stub.url))
        phones = ["4479" + str(uuid.uuid4().int)[:8] for _ in range(20)]
        started = time.monotonic()
        for phone in phones:
            assert (await server.post_meta(text_message(phone, "how long do refunds take?"))).status_code == 200
        replies = await server.wait_for(
            "SELECT conversation_key FROM outbox WHERE conversation_key = ANY(%s) AND kind = 'text'",
            phones, count=len(phones), within_s=30)
        elapsed = time.monotonic() - started
    assert sorted(r["conversation_key"] for r in replies) == sorted(phones)
    # Each turn makes two model calls of 1 s (router, agent): one after another, 20 turns
    # would take 40 s. Run concurrently they finish within a few seconds (a cold start of
    # the knowledge base and the model clients included).
    assert elapsed < 20, f"20 turns took {elapsed:.1f} s"
    assert stub.peak_in_flight >= 10, f"at most {stub.peak_in_flight} model calls overlapped"
    turns = await server.rows("SELECT outcome FROM turns WHERE conversation_key = ANY(%s)", phones)
    assert [t["outcome"] for t in turns] == ["replied"] * len(phones)


async def test_concurrency_is_bounded_by_the_setting(start_server):
    with ModelStub(delay_s=0.5) as stub:
        server = await start_server(debounce_s=0.1, worker=WorkerSettings(concurrency=3),
                                    **model_settings(stub.url))
        phones = ["4478" + str(uuid.uuid4().int)[:8] for _ in range(9)]
        await asyncio.gather(*(server.post_meta(text_message(p, "how long do refunds take?"))
                               for p in phones))
        replies = await server.wait_for(
            "SELECT 1 FROM outbox WHERE conversation_key = ANY(%s) AND kind = 'text'", phones,
            count=len(phones), within_s=30)
    assert len(replies) == len(phones)
    assert stub.peak_in_flight <= 3  # one model call at a time per turn, three turns at once
    assert stub.peak_in_flight >= 2
