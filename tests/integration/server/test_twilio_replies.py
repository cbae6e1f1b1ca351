"""Twilio customers get replies, end to end on a real server: a signed Twilio form in, the reply
out at a fake Twilio Messages API over real HTTP, whose signed status callbacks settle the outbox
row. Failures (by callback or in the response), templates outside the 24-hour window, and a
deployment with no Twilio sender end visibly: failed with the reason, on the agents' console."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from graph.base.settings import TwilioSettings
from server import outbox
from server.outbox.providers import NO_SENDER
from server.simulator.fake_twilio import FakeTwilio
from tests.channels_helpers import load_fixture, sign_twilio
from tests.integration.server.conftest import RunningServer
from tests.integration.server.console.conftest import console_for, new_phone, ref_for

pytestmark = pytest.mark.integration

SID, TOKEN, FROM = "AC" + "1" * 32, "twilio-e2e-token", "whatsapp:+14155238886"
CONTENT_SID = "HX" + "a" * 32
TEMPLATE = {"name": "order_update_v1", "language": "en"}


@pytest.fixture
def fake_twilio():
    with FakeTwilio(SID, TOKEN, FROM, status_delay_s=0.05,
                    contents={CONTENT_SID: "Your order has an update"}) as fake:
        yield fake


@pytest.fixture
async def server(start_server, fake_twilio) -> RunningServer:
    running = await start_server(twilio=TwilioSettings(
        auth_token=SecretStr(TOKEN), account_sid=SID, from_number=FROM,
        api_base_url=fake_twilio.url, content_sids={"order_update_v1": CONTENT_SID}))
    fake_twilio.webhook_url = f"{running.url}/webhooks/twilio"
    return running


async def queue(server: RunningServer, phone: str, texts: list[str], *,
                customer_age: timedelta = timedelta(minutes=1), template: dict = TEMPLATE) -> list[int]:
    now = datetime.now(UTC)
    async with server.parts.pool.connection() as conn, conn.transaction():
        ids = await outbox.enqueue_reply(
            conn, conversation_key=phone, recipient=phone, provider="twilio", texts=texts,
            idempotency_key=f"test-{uuid.uuid4()}", last_customer_at=now - customer_age, now=now,
            window_template=template)
    server.parts.outbox_worker.wake()
    return ids


async def settled(server: RunningServer, phone: str, status: str, within_s: float = 30) -> list[dict]:
    """The conversation's outbox rows once every one has `status` (failing with what they have)."""
    deadline = time.monotonic() + within_s
    while True:
        rows = await server.rows("SELECT * FROM outbox WHERE conversation_key = %s ORDER BY id", phone)
        if rows and all(r["status"] == status for r in rows):
            return rows
        assert time.monotonic() < deadline, [(r["status"], r["last_error"]) for r in rows]
        await asyncio.sleep(0.05)


def sent_to(fake: FakeTwilio, phone: str) -> list[dict]:
    return [m for m in fake.sent if m["to"] == f"whatsapp:+{phone}"]


async def delivery_events(server: RunningServer, phone: str) -> list[dict]:
    return await server.wait_for("SELECT kind, reason, payload FROM desk_events WHERE conversation_key"
                                 " = %s AND kind LIKE 'delivery_%%' ORDER BY id", phone)


async def test_a_twilio_customer_gets_the_reply_and_its_statuses(server, fake_twilio):
    phone = new_phone()
    await fake_twilio.send_customer_message(phone, "how long do refunds take?")
    rows = await settled(server, phone, "read")
    assert {r["kind"] for r in rows} == {"text"}  # no read receipt or typing queued for Twilio
    sent = sent_to(fake_twilio, phone)
    assert [m["body"] for m in sent] == [r["body"] for r in rows]
    assert [m["sid"] for m in sent] == [r["provider_message_id"] for r in rows]
    assert sent[0]["from"] == FROM and all(r["attempts"] == 1 for r in rows)
    assert sent[0]["status_callback"] == f"{server.url}/webhooks/twilio?outbox_id={rows[0]['id']}"
    callbacks = [c for c in fake_twilio.callbacks if c["form"]["MessageSid"] == sent[0]["sid"]]
    assert [c["form"]["MessageStatus"] for c in callbacks] == ["queued", "sent", "delivered", "read"]
    assert {c["http_status"] for c in callbacks} == {200}  # every signature verified


async def test_a_forged_status_callback_changes_nothing(server, fake_twilio):
    phone = new_phone()
    [row_id] = await queue(server, phone, ["Your parcel is out for delivery."])
    [row] = await settled(server, phone, "read")
    path = f"/webhooks/twilio?outbox_id={row_id}"
    form = {**load_fixture("twilio/status_failed.form"), "MessageSid": row["provider_message_id"],
            "To": f"whatsapp:+{phone}"}
    forged = sign_twilio(f"{server.url}{path}", form, "not-the-token")
    response = await server.http.post(path, data=form, headers={"x-twilio-signature": forged})
    assert response.status_code == 403
    assert (await server.rows("SELECT status FROM outbox WHERE id = %s", row_id))[0]["status"] == "read"


async def test_an_undelivered_reply_is_failed_and_shown_to_agents(server, fake_twilio):
    phone = new_phone()
    fake_twilio.fail_next(63016, callback="undelivered", to=f"whatsapp:+{phone}")
    [row_id] = await queue(server, phone, ["Your refund of 20 GBP is approved."])
    [row] = await settled(server, phone, "failed")
    assert row["last_error"][0]["code"] == 63016 and row["provider_message_id"].startswith("SM")
    [event] = await delivery_events(server, phone)
    assert event["kind"] == "delivery_failed" and event["payload"]["outbox_id"] == row_id
    assert event["reason"] == ("Twilio reported it failed: 63016 Failed to send freeform message"
                               " because you are outside the allowed window")

    console = await console_for(server, role="supervisor")
    try:
        ref = await ref_for(server, phone)
        queue_page = (await console.http.get("/console")).text
        conversation_page = (await console.http.get(f"/console/c/{ref}")).text
    finally:
        await console.aclose()
    [listed] = re.findall(rf'<tr class="delivery-problem" data-ref="{ref}">(.*?)</tr>', queue_page, re.S)
    listed = " ".join(re.sub(r"<[^>]+>", " ", listed).split())
    assert "Delivery failed (text message)" in listed and "63016" in listed
    assert f"Delivery failed : text message #{row_id} (Twilio reported it failed: 63016" in " ".join(
        re.sub(r"<[^>]+>", " ", conversation_page).split())

    health = (await server.http.get("/readyz")).json()
    assert health["ready"] is True and health["outbox"]["failed_24h"] >= 1


async def test_a_refused_send_fails_at_once_and_a_throttled_one_is_retried(server, fake_twilio):
    refused, throttled = new_phone(), new_phone()
    fake_twilio.fail_next(21211, to=f"whatsapp:+{refused}")
    fake_twilio.fail_next(20429, to=f"whatsapp:+{throttled}")
    [refused_id] = await queue(server, refused, ["Hello"])
    await queue(server, throttled, ["Hello again"])
    [row] = await settled(server, refused, "failed")
    assert (row["attempts"], row["last_error"]["code"], row["last_error"]["http_status"]) == (1, 21211, 400)
    [event] = await delivery_events(server, refused)
    assert event["reason"] == "the provider refused it: 21211: Invalid 'To' Phone Number"
    assert event["payload"]["outbox_id"] == refused_id
    [row] = await settled(server, throttled, "read")
    assert row["attempts"] == 2 and len(sent_to(fake_twilio, throttled)) == 1


async def test_outside_the_window_the_template_goes_by_content_sid(server, fake_twilio):
    phone, unmapped = new_phone(), new_phone()
    await queue(server, phone, ["Your order shipped."], customer_age=timedelta(hours=25))
    [row] = await settled(server, phone, "read")
    assert row["kind"] == "template"
    [message] = sent_to(fake_twilio, phone)
    assert (message["content_sid"], message["body"], message["content_variables"]) == (CONTENT_SID, None, None)

    [row_id] = await queue(server, unmapped, ["We miss you"], customer_age=timedelta(hours=30),
                           template={"name": "winback_v2", "language": "en"})
    [row] = await settled(server, unmapped, "failed")
    why = "no Twilio Content SID is configured for template 'winback_v2' (set TWILIO__CONTENT_SIDS)"
    assert (row["last_error"]["kind"], row["last_error"]["message"]) == ("NotSendable", why)
    assert sent_to(fake_twilio, unmapped) == []
    [event] = await delivery_events(server, unmapped)
    assert (event["reason"], event["payload"]["message_kind"]) == (f"not sent: {why}", "template")


async def test_long_replies_are_split_for_twilios_limit(server, fake_twilio):
    phone = new_phone()
    long_reply = " ".join(f"Sentence {i} about your delivery window." for i in range(90))  # ~3,700
    ids = await queue(server, phone, [long_reply])
    rows = await settled(server, phone, "read")
    assert len(ids) == len(rows) == 3 and all(len(r["body"]) <= 1600 for r in rows)
    assert " ".join(m["body"] for m in sent_to(fake_twilio, phone)) == long_reply


async def test_without_a_twilio_sender_replies_fail_visibly(start_server):
    server = await start_server(twilio=TwilioSettings(auth_token=SecretStr(TOKEN)))  # webhooks only
    assert "twilio" not in server.parts.outbox_worker.senders
    phone = new_phone()
    form = {**load_fixture("twilio/text.form"), "WaId": phone, "From": f"whatsapp:+{phone}",
            "MessageSid": f"SM{uuid.uuid4().hex}", "Body": "how long do refunds take?"}
    response = await server.http.post("/webhooks/twilio", data=form, headers={
        "x-twilio-signature": sign_twilio(f"{server.url}/webhooks/twilio", form, TOKEN)})
    assert response.status_code == 200
    rows = await settled(server, phone, "failed")
    assert {r["last_error"]["message"] for r in rows} == {NO_SENDER["twilio"]}
    events = await delivery_events(server, phone)
    assert {e["reason"] for e in events} == {f"not sent: {NO_SENDER['twilio']}"}
    assert len(events) == len(rows)
    assert (await server.http.get("/readyz")).json()["outbox"]["failed_24h"] >= len(rows)
