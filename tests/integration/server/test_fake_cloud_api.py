"""The fake Cloud API under load and trouble: one HTTP client for all its webhooks, retries of
refused ones in Meta's manner without holding the others back, and a process of its own."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from server import outbox
from server.simulator import FakeCloudApi, serve_in_thread
from tests.conftest import free_port
from tests.integration.server.meta_receiver import APP_SECRET, PHONE_ID, TOKEN, Receiver

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def new_number() -> str:
    return "4479" + str(uuid.uuid4().int)[:8]


def statuses_for(receiver: Receiver, number: str, *, refused_too: bool = False) -> list[dict]:
    """(client address, time, status entry) of each status webhook about messages to `number`."""
    with receiver.lock:
        posts = list(receiver.posts) if refused_too else [
            (None, None, p) for p in receiver.payloads]
    return [{"client": client, "at": at, **s} for client, at, p in posts
            for e in p["entry"] for c in e["changes"] for s in c["value"].get("statuses", [])
            if s["recipient_id"] == number]


async def eventually(condition, within_s: float = 10):
    for _ in range(int(within_s / 0.02)):
        if result := condition():
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {within_s} s")


@pytest.fixture
def receiver():
    receiver = Receiver()
    with serve_in_thread(receiver.app) as url:
        receiver.url = f"{url}/webhooks/meta"
        yield receiver


async def send_texts(base_url: str, number: str, texts: list[str], first_id: int = 1000) -> None:
    sender = outbox.CloudApiSender(base_url=base_url, api_version="v23.0",
                                   phone_number_id=PHONE_ID, access_token=TOKEN)
    try:
        for i, text in enumerate(texts):
            await sender.send_text(number, text, outbox_id=first_id + i)
    finally:
        await sender.aclose()


async def test_every_webhook_goes_through_one_client(receiver):
    number = new_number()
    with FakeCloudApi(APP_SECRET, receiver.url, PHONE_ID, access_token=TOKEN,
                      status_delay_s=0.03) as fake:
        for i, text in enumerate(["One", "Two", "Three"]):  # one after another: no two at once
            await send_texts(fake.url, number, [text], first_id=1000 + i)
            await eventually(lambda i=i: len(statuses_for(receiver, number)) == 3 * (i + 1))
        await fake.send_customer_message(number, "And one from the customer")
    with receiver.lock:
        clients = {client for client, _, _ in receiver.posts}
    # A client per webhook would be ten connections; one client keeps its connection open.
    assert len(receiver.posts) == 10 and len(clients) <= 2
    statuses = statuses_for(receiver, number)
    assert {s["biz_opaque_callback_data"] for s in statuses} == {"1000", "1001", "1002"}


async def test_refused_webhooks_are_retried_with_growing_pauses_and_hold_no_other(receiver):
    down, up = new_number(), new_number()
    receiver.refuse = lambda payload: down in str(payload) and not refusing_over.is_set()
    refusing_over = asyncio.Event()
    with FakeCloudApi(APP_SECRET, receiver.url, PHONE_ID, access_token=TOKEN, status_delay_s=0.01,
                      webhook_retry_first_s=0.05, webhook_retry_s=10) as fake:
        await send_texts(fake.url, down, ["Refused for a while"])
        await send_texts(fake.url, up, ["Straight through"])
        await eventually(lambda: len(statuses_for(receiver, up)) == 3)
        assert statuses_for(receiver, down) == []  # still refused, still being retried
        await asyncio.sleep(0.6)
        refusing_over.set()
        await eventually(lambda: len(statuses_for(receiver, down)) == 3)
        tries = [r["tries"] for r in fake.webhooks if down in str(r["payload"])]
    assert all(t > 3 for t in tries) and all(r["http_status"] == 200 for r in fake.webhooks)
    sent_tries = [s["at"] for s in statuses_for(receiver, down, refused_too=True)
                  if s["status"] == "sent"]
    pauses = [b - a for a, b in zip(sent_tries, sent_tries[1:], strict=False)]
    assert pauses[0] < 0.2 and pauses[-1] > 2.5 * pauses[0]  # the pauses grow


async def test_a_webhook_is_given_up_after_the_retry_span(receiver):
    number = new_number()
    receiver.refuse = lambda payload: True
    with FakeCloudApi(APP_SECRET, receiver.url, PHONE_ID, access_token=TOKEN, status_delay_s=0.01,
                      webhook_retry_first_s=0.05, webhook_retry_s=0.4) as fake:
        await send_texts(fake.url, number, ["Nobody home"])
        await eventually(lambda: len(fake.webhooks) == 3)
        posts = len(receiver.posts)
        await asyncio.sleep(0.3)
        assert len(receiver.posts) == posts  # no more tries
    assert all(r["http_status"] == 503 and 3 <= r["tries"] <= 6 for r in fake.webhooks)


async def test_the_fake_runs_as_its_own_process(receiver):
    port, number = free_port(), new_number()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.simulator.fake_cloud_api", "--host", "127.0.0.1",
        "--port", str(port), "--webhook-url", receiver.url, "--app-secret", APP_SECRET,
        "--access-token", TOKEN, "--phone-number-id", PHONE_ID, "--status-delay-s", "0.02",
        cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        await eventually(lambda: _listening(port) or process.returncode is not None, within_s=30)
        assert process.returncode is None, await process.communicate()
        await send_texts(f"http://127.0.0.1:{port}", number, ["From another process"])
        statuses = await eventually(lambda: len(statuses_for(receiver, number)) == 3
                                    and statuses_for(receiver, number))
        assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
        assert statuses[0]["biz_opaque_callback_data"] == "1000"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith(f"fake Cloud API on http://127.0.0.1:{port}")


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
