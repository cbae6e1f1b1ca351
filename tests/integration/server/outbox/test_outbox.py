"""The outbox on a real Postgres, sending through pywa to the fake Cloud API over real HTTP,
whose signed status webhooks come back to a real receiver."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import psycopg
import pytest
from fastapi import FastAPI, Request
from prometheus_client import REGISTRY
from psycopg.conninfo import make_conninfo

from graph.base.settings import OutboxSettings
from server import outbox
from server.channels import meta
from server.database import open_pool
from server.migrations import migrate_pool
from server.simulator import FakeCloudApi, serve_in_thread
from tests.integration.server.meta_receiver import APP_SECRET, PHONE_ID, TOKEN, Receiver
from tests.integration.server.tcp_door import TcpDoor

pytestmark = pytest.mark.integration

TEMPLATE = {"name": "order_update_v1", "language": "en"}


@pytest.fixture(scope="module")
async def pool(settings, database_url):
    """The real Postgres, in a schema of this module's own: other test runs that share the
    database (and their leftover pending rows) can neither be sent by, nor send, ours."""
    schema = f"test_outbox_{uuid.uuid4().hex[:10]}"
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(f"CREATE SCHEMA {schema}")
    pool = await open_pool(settings, make_conninfo(database_url, options=f"-c search_path={schema}"),
                           max_size=6)
    try:
        await migrate_pool(pool)
        await migrate_pool(pool)  # a second start is a no-op
        yield pool
    finally:
        await pool.close()
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver()
    with serve_in_thread(receiver.app) as url:
        receiver.url = f"{url}/webhooks/meta"
        yield receiver


@pytest.fixture
def fake(receiver):
    with FakeCloudApi(APP_SECRET, receiver.url, PHONE_ID, access_token=TOKEN,
                      status_delay_s=0.02) as fake:
        yield fake


@pytest.fixture
async def sender(fake):
    sender = outbox.CloudApiSender(base_url=fake.url, api_version="v23.0",
                                   phone_number_id=PHONE_ID, access_token=TOKEN)
    yield sender
    await sender.aclose()


@pytest.fixture
async def recipient(pool):
    """A WhatsApp number of this test only (the database outlives test runs)."""
    number = "4477" + str(uuid.uuid4().int)[:8]
    yield number
    async with pool.connection() as conn:
        await conn.execute("DELETE FROM outbox WHERE recipient = %s", (number,))


@pytest.fixture
def worker(pool, sender):
    return outbox.OutboxWorker(pool, {"meta": sender})


async def enqueue(pool, recipient: str, texts: list[str], *, key: str | None = None,
                  customer_age: timedelta = timedelta(minutes=1)) -> list[int]:
    now = datetime.now(UTC)
    async with pool.connection() as conn, conn.transaction():
        return await outbox.enqueue_reply(
            conn, conversation_key=f"meta:{recipient}", recipient=recipient, provider="meta",
            texts=texts, idempotency_key=key or f"turn-{uuid.uuid4()}",
            last_customer_at=now - customer_age, now=now, window_template=TEMPLATE)


async def rows(pool, recipient: str) -> list[dict]:
    async with pool.connection() as conn:
        return await (await conn.execute(
            "SELECT * FROM outbox WHERE recipient = %s ORDER BY id", (recipient,))).fetchall()


def sent_to(fake: FakeCloudApi, recipient: str) -> list[dict]:
    return [m for m in fake.sent if m["to"] == recipient]


async def eventually(condition):
    """The condition's first truthy value, polled for up to 5 s (webhooks arrive async)."""
    for _ in range(250):
        if result := condition():
            return result
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met within 5 s")


async def apply_all(pool, updates: list[dict]) -> list[bool]:
    async with pool.connection() as conn:
        return [await outbox.apply_status(conn, update) for update in updates]


async def test_same_key_twice_is_one_row_and_one_send(pool, fake, worker, recipient):
    first = await enqueue(pool, recipient, ["Your order shipped."], key=f"turn-{recipient}")
    again = await enqueue(pool, recipient, ["Your order shipped."], key=f"turn-{recipient}")
    assert len(first) == 1 and again == []
    assert await worker.run_once() >= 1
    await worker.run_once()
    assert [m["text"] for m in sent_to(fake, recipient)] == ["Your order shipped."]
    [row] = await rows(pool, recipient)
    assert row["status"] == "sent" and row["provider_message_id"] == sent_to(fake, recipient)[0]["id"]
    assert row["idempotency_key"] == f"turn-{recipient}:0" and row["attempts"] == 1


async def test_long_reply_goes_out_in_order_in_parts(pool, fake, worker, recipient):
    long_reply = "\n\n".join(f"Paragraph {i}. " + "word " * 600 for i in range(3))
    ids = await enqueue(pool, recipient, [long_reply, "Anything else?"])
    assert len(ids) == 4
    await worker.run_once()
    texts = [m["text"] for m in sent_to(fake, recipient)]
    assert len(texts) == 3  # the per-recipient burst; the rest follows later
    assert all(len(t) <= 4096 for t in texts) and texts[0].startswith("Paragraph 0.")
    await worker.run_once(datetime.now(UTC) + timedelta(seconds=7))
    texts = [m["text"] for m in sent_to(fake, recipient)]
    assert texts[1].startswith("Paragraph 1.") and texts[-1] == "Anything else?"


async def test_closed_window_sends_the_approved_template(pool, fake, worker, recipient):
    await enqueue(pool, recipient, ["Your refund went through."], customer_age=timedelta(hours=25))
    [row] = await rows(pool, recipient)
    assert row["kind"] == "template" and row["template"] == TEMPLATE
    await worker.run_once()
    [message] = sent_to(fake, recipient)
    assert message["type"] == "template" and message["text"] is None and row["body"] is None
    assert message["template"]["name"] == "order_update_v1"
    assert message["template"]["language"] == {"code": "en"}


async def test_pair_rate_limit_is_retried_then_delivered(pool, fake, worker, receiver, recipient):
    fake.fail_next(131056, http_status=400)
    await enqueue(pool, recipient, ["Tracking: HP123"])
    started = datetime.now(UTC)
    await worker.run_once(started)
    [row] = await rows(pool, recipient)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert row["last_error"]["code"] == 131056 and row["next_attempt_at"] > started
    assert sent_to(fake, recipient) == []

    await worker.run_once(row["next_attempt_at"])
    [message] = sent_to(fake, recipient)
    await eventually(lambda: any(s["status"] == "delivered" for s in receiver.statuses(message["id"])))
    await apply_all(pool, receiver.statuses(message["id"]))
    [row] = await rows(pool, recipient)
    assert row["attempts"] == 2 and row["status"] in ("delivered", "read")
    assert len(sent_to(fake, recipient)) == 1


@pytest.mark.parametrize("code", [131047, 131050])
async def test_window_and_opt_out_errors_are_recorded_not_retried(pool, fake, worker, recipient, code):
    def counted(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"provider": "meta", **labels}) or 0

    failures, failed = counted("switchboard_send_failures_total", code=str(code)), counted(
        "switchboard_sends_total", status="failed")
    fake.fail_next(code, http_status=400)
    await enqueue(pool, recipient, ["Hello again"])
    await worker.run_once()
    await worker.run_once(datetime.now(UTC) + timedelta(hours=1))
    [row] = await rows(pool, recipient)
    assert row["status"] == "failed" and row["attempts"] == 1
    assert counted("switchboard_send_failures_total", code=str(code)) == failures + 1
    assert counted("switchboard_sends_total", status="failed") == failed + 1
    assert row["last_error"]["code"] == code and row["last_error"]["http_status"] == 400
    assert sent_to(fake, recipient) == []


async def test_failed_status_webhook_records_the_error(pool, fake, worker, receiver, recipient):
    fake.fail_next(131047, via_webhook=True)  # accepted, then reported failed, as Meta does
    await enqueue(pool, recipient, ["Are you still there?"])
    await worker.run_once()
    [message] = sent_to(fake, recipient)
    updates = await eventually(lambda: receiver.statuses(message["id"]))
    assert await apply_all(pool, updates) == [True]
    [row] = await rows(pool, recipient)
    assert row["status"] == "failed" and row["last_error"][0]["code"] == 131047


@pytest.mark.parametrize(("code", "http_status"), [(None, 429), (None, 503), (130429, 400), (131000, 500)])
async def test_throttling_and_outages_back_off(pool, fake, worker, recipient, code, http_status):
    fake.fail_next(code, http_status=http_status)
    await enqueue(pool, recipient, ["One moment"])
    now = datetime.now(UTC)
    await worker.run_once(now)
    done = datetime.now(UTC)
    [row] = await rows(pool, recipient)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert row["last_error"]["http_status"] == http_status and row["last_error"]["code"] == code
    # base 1 s with jitter between half and all of it, from when the failed call returned
    assert now + timedelta(seconds=0.49) <= row["next_attempt_at"] <= done + timedelta(seconds=1.01)
    assert await worker.run_once(now) == 0 and sent_to(fake, recipient) == []


async def test_gives_up_after_max_attempts(pool, fake, sender, recipient):
    worker = outbox.OutboxWorker(pool, {"meta": sender}, max_attempts=2)
    fake.fail_next(131000, http_status=500, times=2)
    await enqueue(pool, recipient, ["Still trying"])
    await worker.run_once()
    [row] = await rows(pool, recipient)
    await worker.run_once(row["next_attempt_at"])
    [row] = await rows(pool, recipient)
    assert row["status"] == "dead" and row["attempts"] == 2 and sent_to(fake, recipient) == []


async def test_a_retried_part_is_not_overtaken(pool, fake, worker, recipient):
    fake.fail_next(131056)
    await enqueue(pool, recipient, ["First", "Second"])
    now = datetime.now(UTC)
    await worker.run_once(now)
    assert sent_to(fake, recipient) == []
    first, second = await rows(pool, recipient)
    assert (first["status"], second["status"]) == ("pending", "pending")
    assert second["attempts"] == 0 and second["next_attempt_at"] >= first["next_attempt_at"]
    await worker.run_once(first["next_attempt_at"] + timedelta(seconds=1))
    assert [m["text"] for m in sent_to(fake, recipient)] == ["First", "Second"]


async def test_statuses_move_forward_only(pool, fake, worker, recipient):
    await enqueue(pool, recipient, ["Thanks!"])
    await worker.run_once()
    message_id = sent_to(fake, recipient)[0]["id"]

    def update(status, **extra):
        return {"provider_message_id": message_id, "status": status, "errors": None, "at": None, **extra}

    assert await apply_all(pool, [update("delivered")]) == [True]
    assert await apply_all(pool, [update("sent"), update("failed", errors=[{"code": 1}])]) == [False, False]
    assert (await rows(pool, recipient))[0]["status"] == "delivered"
    # The channel parser may hand over objects rather than dicts.
    read = SimpleNamespace(provider_message_id=message_id, status="read", errors=None, at="1700000000")
    assert await apply_all(pool, [read, update("delivered")]) == [True, False]
    [row] = await rows(pool, recipient)
    assert row["status"] == "read" and row["last_error"] is None
    assert row["updated_at"] == datetime.fromtimestamp(1700000000, UTC)
    assert await apply_all(pool, [update("read", provider_message_id="wamid.nobody")]) == [False]


async def test_pacing_sends_the_burst_and_holds_the_rest(pool, fake, worker, recipient):
    await enqueue(pool, recipient, [f"Message {i}" for i in range(5)])
    now = datetime.now(UTC)
    assert await worker.run_once(now) == 3
    assert [m["text"] for m in sent_to(fake, recipient)] == ["Message 0", "Message 1", "Message 2"]
    held = [r for r in await rows(pool, recipient) if r["status"] == "pending"]
    assert len(held) == 2
    assert all(r["next_attempt_at"] >= now + timedelta(seconds=5.9) for r in held)
    assert await worker.run_once(now + timedelta(seconds=6)) == 1
    assert await worker.run_once(now + timedelta(seconds=12)) == 1
    assert [m["text"] for m in sent_to(fake, recipient)][-2:] == ["Message 3", "Message 4"]


async def test_pacing_in_redis_is_shared_by_workers(pool, fake, sender, recipient, data_dir):
    from server.redis_client import embedded_redis_url, open_redis

    redis = open_redis(await asyncio.to_thread(embedded_redis_url, data_dir))
    try:
        # Two workers, as two processes would be: the pair budget of 3 is shared between them.
        first, second = (outbox.OutboxWorker(pool, {"meta": sender}, redis=redis) for _ in range(2))
        await enqueue(pool, recipient, ["A", "B"])
        now = datetime.now(UTC)
        assert await first.run_once(now) == 2
        await enqueue(pool, recipient, ["C", "D"])
        later = datetime.now(UTC)
        assert await second.run_once(later) == 1
        [held] = [r for r in await rows(pool, recipient) if r["status"] == "pending"]
        assert held["body"] == "D" and held["next_attempt_at"] >= now + timedelta(seconds=5.9)
        assert await first.run_once(later + timedelta(seconds=6)) == 1
        assert [m["text"] for m in sent_to(fake, recipient)] == ["A", "B", "C", "D"]
    finally:
        await redis.aclose()


async def test_read_receipt_with_typing_reaches_the_api(pool, fake, worker, recipient):
    inbound_id = f"wamid.inbound-{uuid.uuid4().hex}"
    for _ in range(2):  # a re-run turn start queues nothing new
        async with pool.connection() as conn:
            await outbox.enqueue_read_receipt(conn, provider="meta", recipient=recipient,
                                              inbound_message_id=inbound_id,
                                              conversation_key=f"meta:{recipient}")
    await worker.run_once()
    [receipt] = [r for r in fake.read_receipts if r["message_id"] == inbound_id]
    assert receipt["typing"] == "text"
    assert receipt["payload"] == {"messaging_product": "whatsapp", "status": "read",
                                  "message_id": inbound_id, "typing_indicator": {"type": "text"}}
    [row] = await rows(pool, recipient)
    assert row["kind"] == "read_receipt" and row["status"] == "sent"


# --- Unknown outcomes: a sender killed after its claim, a call that timed out ------------------

QUICK = OutboxSettings(send_timeout_s=0.3, status_wait_s=0.5, resends=1)


def quick_worker(pool, sender, **options) -> outbox.OutboxWorker:
    return outbox.OutboxWorker(pool, {"meta": sender}, settings=QUICK, **options)


async def lose_in_flight(pool, row_id: int, *, deadline_in_s: float = -0.01,
                         wait_s: float = QUICK.status_wait_s) -> None:
    """What a worker killed after its claim leaves: the row 'sending', the attempt counted,
    the claim deadline and the resend time set, and no call made."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = now(),"
            " claimed_until = now() + make_interval(secs => %s),"
            " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
            (deadline_in_s, wait_s, row_id))


async def sleep_until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.02)


async def unconfirmed_reply(pool, worker, recipient: str, text: str) -> int:
    """A reply whose sender died after claiming it, as the next worker loop finds it."""
    [row_id] = await enqueue(pool, recipient, [text])
    await lose_in_flight(pool, row_id)
    assert await worker.run_once() == 0  # in doubt: the status wait comes first
    return row_id


def meta_statuses(payloads: list[dict], message_id: str) -> list:
    """A message's statuses as our webhook parser reads them from Meta's payloads."""
    return [s for p in payloads for s in meta.parse_webhook(p).statuses
            if s.provider_message_id == message_id]


async def test_a_send_lost_in_flight_is_sent_again_once_after_the_status_wait(pool, fake, sender,
                                                                            recipient):
    worker = quick_worker(pool, sender)
    row_id = await unconfirmed_reply(pool, worker, recipient, "Did this go?")
    [row] = await rows(pool, recipient)
    assert row["status"] == "unconfirmed" and sent_to(fake, recipient) == []

    await sleep_until(row["next_attempt_at"])  # no status came
    assert await worker.run_once() == 1
    [message] = sent_to(fake, recipient)
    assert message["text"] == "Did this go?" and message["biz_opaque_callback_data"] == str(row_id)
    [row] = await rows(pool, recipient)
    assert (row["status"], row["attempts"], row["resends"]) == ("sent", 2, 1)
    assert row["provider_message_id"] == message["id"]

    await asyncio.sleep(QUICK.status_wait_s + 0.1)
    await worker.run_once()
    assert len(sent_to(fake, recipient)) == 1


async def test_a_status_naming_the_row_settles_a_lost_send(pool, fake, sender, recipient):
    worker = quick_worker(pool, sender)
    row_id = await unconfirmed_reply(pool, worker, recipient, "Your refund is on its way.")
    # Meta had the message after all: its status webhook echoes the outbox id.
    message_id = f"wamid.{uuid.uuid4().hex}"
    payload = fake.envelope(fake.status_value(
        {"id": message_id, "to": recipient, "type": "text", "biz_opaque_callback_data": str(row_id)},
        "delivered"))
    [status] = meta.parse_webhook(payload).statuses
    assert status.outbox_id == row_id
    assert await apply_all(pool, [status]) == [True]
    [row] = await rows(pool, recipient)
    assert (row["status"], row["provider_message_id"]) == ("delivered", message_id)

    await sleep_until(row["updated_at"] + timedelta(seconds=QUICK.status_wait_s))
    assert await worker.run_once() == 0
    assert sent_to(fake, recipient) == []
    assert (await rows(pool, recipient))[0]["status"] == "delivered"


async def test_a_timed_out_send_that_got_through_is_settled_by_its_statuses(pool, fake, sender,
                                                                          receiver, recipient):
    worker = quick_worker(pool, sender)
    fake.delay_next(0.8)  # Meta answers after our timeout, but takes the message
    [row_id] = await enqueue(pool, recipient, ["Tracking: HP123"])
    assert await worker.run_once() == 1
    [row] = await rows(pool, recipient)
    assert row["status"] == "unconfirmed" and row["last_error"]["kind"] == "SendOutcomeUnknown"

    [message] = await eventually(lambda: sent_to(fake, recipient))
    updates = await eventually(lambda: meta_statuses(receiver.payloads, message["id"]))
    assert {u.outbox_id for u in updates} == {row_id}
    await apply_all(pool, updates)
    [row] = await rows(pool, recipient)
    assert row["status"] in ("sent", "delivered", "read") and row["provider_message_id"] == message["id"]

    await asyncio.sleep(QUICK.status_wait_s)
    await worker.run_once()
    assert len(sent_to(fake, recipient)) == 1


async def test_unknown_after_every_resend(pool, fake, sender, recipient):
    worker = quick_worker(pool, sender)
    await unconfirmed_reply(pool, worker, recipient, "Hello?")
    [row] = await rows(pool, recipient)
    await sleep_until(row["next_attempt_at"])
    fake.fail_next(None, http_status=503, delay_s=0.8)  # the resend times out: never taken
    assert await worker.run_once() == 1
    [row] = await rows(pool, recipient)
    assert (row["status"], row["resends"]) == ("unconfirmed", 1)

    await sleep_until(row["next_attempt_at"])
    assert await worker.run_once() == 0
    [row] = await rows(pool, recipient)
    assert (row["status"], row["attempts"]) == ("unknown", 2) and sent_to(fake, recipient) == []


async def test_a_lost_read_receipt_ends_quietly(pool, fake, sender, recipient):
    worker = quick_worker(pool, sender)
    async with pool.connection() as conn:
        row_id = await outbox.enqueue_read_receipt(
            conn, provider="meta", recipient=recipient, conversation_key=f"meta:{recipient}",
            inbound_message_id=f"wamid.inbound-{uuid.uuid4().hex}")
    await lose_in_flight(pool, row_id)
    await worker.run_once()
    await asyncio.sleep(QUICK.status_wait_s + 0.1)
    await worker.run_once()
    [row] = await rows(pool, recipient)
    assert (row["status"], row["attempts"]) == ("unknown", 1) and fake.read_receipts == []


async def test_a_stuck_send_holds_later_replies_until_its_claim_deadline(pool, fake, sender, recipient):
    worker = quick_worker(pool, sender)
    first, second = await enqueue(pool, recipient, ["First", "Second"])
    await lose_in_flight(pool, first, deadline_in_s=0.4, wait_s=30)  # its sender hangs
    deadline = (await rows(pool, recipient))[0]["claimed_until"]
    while not sent_to(fake, recipient):
        assert datetime.now(UTC) < deadline + timedelta(seconds=0.3), "held past the claim deadline"
        await worker.run_once()
        await asyncio.sleep(0.02)
    [message] = sent_to(fake, recipient)
    assert message["text"] == "Second"
    assert message["requested_at"] >= deadline.timestamp(), "it overtook a send still in its claim"
    stuck, sent = await rows(pool, recipient)
    assert (stuck["status"], sent["status"]) == ("unconfirmed", "sent")


async def test_one_message_in_flight_per_recipient(pool, fake, sender, recipient):
    """Three workers, three customers with four replies each, slow answers: each customer's
    replies go one at a time and in order, while the customers are served side by side."""
    customers = [f"{recipient}{i}" for i in range(3)]
    try:
        for number in customers:
            await enqueue(pool, number, [f"{number} reply {i}" for i in range(4)])
        fake.delay_next(0.1, times=12)
        workers = [quick_worker(pool, sender, pair_burst=10, pair_interval_s=0.01) for _ in range(3)]
        stop, most_in_flight = asyncio.Event(), 0
        tasks = [asyncio.create_task(w.run_forever(stop)) for w in workers]
        try:
            while sum(len(sent_to(fake, number)) for number in customers) < 12:
                async with pool.connection() as conn:
                    counts = await (await conn.execute(
                        "SELECT count(*) AS n FROM outbox WHERE status = 'sending'"
                        " AND recipient = ANY(%s) GROUP BY recipient", (customers,))).fetchall()
                most_in_flight = max([most_in_flight, *(c["n"] for c in counts)])
                await asyncio.sleep(0.005)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        assert most_in_flight == 1
        calls = []
        for number in customers:
            sent = sent_to(fake, number)
            assert [m["text"] for m in sent] == [f"{number} reply {i}" for i in range(4)]
            assert all(a["at"] <= b["requested_at"] for a, b in zip(sent, sent[1:], strict=False))
            calls += [(m["requested_at"], m["at"]) for m in sent]
        overlapping = [(a, b) for a in calls for b in calls if a < b and b[0] < a[1]]
        assert overlapping, "customers were served one after another, not side by side"
    finally:
        async with pool.connection() as conn:
            await conn.execute("DELETE FROM outbox WHERE recipient = ANY(%s)", (customers,))


async def test_wrong_token_is_refused(pool, fake, recipient):
    sender = outbox.CloudApiSender(base_url=fake.url, api_version="v23.0",
                                   phone_number_id=PHONE_ID, access_token="wrong")
    try:
        assert "wrong" not in repr(sender)
        await enqueue(pool, recipient, ["Hi"])
        await outbox.OutboxWorker(pool, {"meta": sender}).run_once()
        [row] = await rows(pool, recipient)
        assert row["status"] == "failed" and row["last_error"]["code"] == 190
        assert row["last_error"]["http_status"] == 401
    finally:
        await sender.aclose()


async def test_unreachable_api_is_retried(pool, recipient):
    from tests.conftest import free_port

    sender = outbox.CloudApiSender(base_url=f"http://127.0.0.1:{free_port()}",
                                   api_version="v23.0", phone_number_id=PHONE_ID, access_token=TOKEN)
    try:
        await enqueue(pool, recipient, ["Hi"])
        await outbox.OutboxWorker(pool, {"meta": sender}).run_once()
        [row] = await rows(pool, recipient)
        assert row["status"] == "pending" and row["last_error"]["kind"] == "SendUnreachable"
    finally:
        await sender.aclose()


async def test_unreachable_twilio_is_retried(pool, recipient):
    from tests.conftest import free_port

    sender = outbox.TwilioSender(account_sid="AC" + "0" * 32, auth_token="secret",
                                 from_number="whatsapp:+14155238886",
                                 base_url=f"http://127.0.0.1:{free_port()}")
    now = datetime.now(UTC)
    async with pool.connection() as conn:
        await outbox.enqueue_reply(
            conn, conversation_key=recipient, recipient=recipient, provider="twilio",
            texts=["Hi"], idempotency_key=f"turn-{uuid.uuid4()}", last_customer_at=now, now=now,
            window_template=TEMPLATE)
    await outbox.OutboxWorker(pool, {"twilio": sender}).run_once()
    [row] = await rows(pool, recipient)
    assert row["status"] == "pending" and row["last_error"]["kind"] == "SendUnreachable"


async def test_customer_message_webhook_is_signed_in_meta_shape(fake, receiver):
    wa_id = "4477" + str(uuid.uuid4().int)[:8]
    message_id = await fake.send_customer_message(wa_id, "Where is my order?", name="Ada")
    [payload] = [p for p in receiver.payloads if wa_id in json.dumps(p)]
    assert payload["object"] == "whatsapp_business_account"
    value = payload["entry"][0]["changes"][0]["value"]
    assert value["metadata"]["phone_number_id"] == PHONE_ID
    assert value["contacts"] == [{"profile": {"name": "Ada"}, "wa_id": wa_id}]
    [message] = value["messages"]
    assert message["id"] == message_id and message["text"] == {"body": "Where is my order?"}
    assert message["from"] == wa_id and message["type"] == "text"


async def test_twilio_sender_posts_the_messages_form(pool, recipient):
    posts: list[dict] = []
    twilio_api = FastAPI()

    @twilio_api.post("/2010-04-01/Accounts/{sid}/Messages.json")
    async def create(sid: str, request: Request):
        posts.append(dict(await request.form()))
        return {"sid": f"SM{uuid.uuid4().hex}", "account_sid": sid, "status": "queued"}

    with serve_in_thread(twilio_api) as url:
        sender = outbox.TwilioSender(account_sid="AC" + "0" * 32, auth_token="secret",
                                     from_number="whatsapp:+14155238886", base_url=url)
        assert (await sender.send_text(recipient, "Hello from Twilio")).startswith("SM")
        await sender.send_template(recipient, "HX" + "1" * 32, "en", {"1": "HP123"})
        with pytest.raises(NotImplementedError):
            await sender.mark_read_and_typing("SM1")
        tracked = outbox.TwilioSender(
            account_sid="AC" + "0" * 32, auth_token="secret", from_number="whatsapp:+14155238886",
            base_url=url, status_callback_url="https://switchboard.example/webhooks/twilio?env=prod")
        await tracked.send_text(recipient, "Tracked", outbox_id=42)
        await tracked.send_template(recipient, "HX" + "1" * 32, "en", None, outbox_id=43)
    assert posts[0] == {"To": f"whatsapp:+{recipient}", "From": "whatsapp:+14155238886",
                        "Body": "Hello from Twilio"}
    assert posts[1]["ContentSid"] == "HX" + "1" * 32
    assert json.loads(posts[1]["ContentVariables"]) == {"1": "HP123"}
    callback = "https://switchboard.example/webhooks/twilio?env=prod&outbox_id="
    assert [p["StatusCallback"] for p in posts[2:]] == [f"{callback}42", f"{callback}43"]


async def test_concurrent_workers_send_each_row_once(pool, fake, sender, recipient):
    recipients = [f"{recipient}{i}" for i in range(6)]
    try:
        for number in recipients:
            await enqueue(pool, number, ["Hello", "There"])
        workers = [outbox.OutboxWorker(pool, {"meta": sender}) for _ in range(3)]
        counts = await asyncio.gather(*(w.run_once() for w in workers))
        assert sum(counts) == 12
        for number in recipients:
            assert [m["text"] for m in sent_to(fake, number)] == ["Hello", "There"]
    finally:
        async with pool.connection() as conn:
            await conn.execute("DELETE FROM outbox WHERE recipient = ANY(%s)", (recipients,))


async def test_run_forever_sends_until_stopped(pool, fake, worker, recipient):
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop))
    try:
        await enqueue(pool, recipient, ["Polled out"])
        await eventually(lambda: sent_to(fake, recipient))
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert (await rows(pool, recipient))[0]["status"] == "sent"


async def test_mounted_fake_serves_the_same_api(pool, receiver, recipient):
    from server.simulator import create_fake_cloud_api

    fake_graph = create_fake_cloud_api(APP_SECRET, receiver.url, PHONE_ID, "15550000001",
                                       access_token=TOKEN)
    host = FastAPI()
    host.mount("/fake-graph", fake_graph)
    with serve_in_thread(host) as url:
        sender = outbox.CloudApiSender(base_url=f"{url}/fake-graph", api_version="v23.0",
                                       phone_number_id=PHONE_ID, access_token=TOKEN)
        try:
            await enqueue(pool, recipient, ["Through the mount"])
            await outbox.OutboxWorker(pool, {"meta": sender}).run_once()
        finally:
            await sender.aclose()
    [message] = sent_to(fake_graph.state.fake, recipient)
    assert message["text"] == "Through the mount"


# --- Outages: Redis and Postgres go away and come back ---------------------------------------

def outbox_log(caplog, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "server.outbox" and text in r.getMessage()]


async def test_pacing_falls_back_to_this_process_while_redis_is_away(pool, fake, sender, recipient,
                                                                   data_dir, caplog):
    from server.redis_client import embedded_redis_url, open_redis

    caplog.set_level(logging.INFO, "server.outbox")
    url = await asyncio.to_thread(embedded_redis_url, data_dir)
    door = await TcpDoor(unix_path=url.removeprefix("unix://")).open()
    redis, direct = open_redis(f"redis://127.0.0.1:{door.port}"), open_redis(url)
    customers = [f"{recipient}{i}" for i in range(3)]
    worker = outbox.OutboxWorker(pool, {"meta": sender}, redis=redis)
    try:
        await enqueue(pool, customers[0], ["Paced in Redis"])
        assert await worker.run_once() == 1
        await door.shut()
        await enqueue(pool, customers[1], ["One", "Two", "Three", "Four"])
        assert await worker.run_once() == 3  # the pair burst still holds, kept in this process
        assert [m["text"] for m in sent_to(fake, customers[1])] == ["One", "Two", "Three"]
        [line] = outbox_log(caplog, "Redis unavailable")
        assert line.exc_info is None

        await door.open()
        await asyncio.sleep(0.3)  # the first pause after a failure is 0.25 s
        await enqueue(pool, customers[2], ["Paced in Redis again"])
        assert await worker.run_once() == 1
        assert len(outbox_log(caplog, "Redis is back")) == 1
        pair_key = f"switchboard:pace:pair:meta:{PHONE_ID}:{{}}"
        assert await direct.exists(pair_key.format(customers[2]))
        assert not await direct.exists(pair_key.format(customers[1]))
    finally:
        await door.shut()
        await redis.aclose()
        await direct.aclose()
        async with pool.connection() as conn:
            await conn.execute("DELETE FROM outbox WHERE recipient = ANY(%s)", (customers,))


async def test_run_forever_waits_quietly_while_postgres_is_away(pool, database_url, fake, sender,
                                                              recipient, caplog):
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    caplog.set_level(logging.INFO, "server.outbox")
    door = await TcpDoor.before_postgres(database_url)
    async with pool.connection() as conn:
        schema = (await (await conn.execute("SELECT current_schema() AS s")).fetchone())["s"]
    door_pool = AsyncConnectionPool(
        door.postgres_url(database_url, options=f"-c search_path={schema}"),
        min_size=1, max_size=2, timeout=0.5, open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
    await door_pool.open(wait=True)
    worker = outbox.OutboxWorker(door_pool, {"meta": sender}, poll_s=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop))
    try:
        await enqueue(pool, recipient, ["Before"])
        await eventually(lambda: sent_to(fake, recipient))
        await door.shut()
        await asyncio.sleep(1.5)  # many loops
        await enqueue(pool, recipient, ["After"])
        [line] = outbox_log(caplog, "Postgres unavailable")
        assert line.getMessage().startswith("outbox sender paused")
        assert not [r for r in caplog.records if r.name == "server.outbox" and r.exc_info]

        await door.open()
        for _ in range(400):  # the pool reconnects with its own backoff
            if len(sent_to(fake, recipient)) == 2 and outbox_log(caplog, "resumed"):
                break
            await asyncio.sleep(0.05)
        assert [m["text"] for m in sent_to(fake, recipient)] == ["Before", "After"]
        assert len(outbox_log(caplog, "outbox sender resumed")) == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await door.shut()
        await door_pool.close()
