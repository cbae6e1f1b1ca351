"""Delivery outcomes through a real server: status webhooks that name the outbox row (Meta's
biz_opaque_callback_data, Twilio's status callback URL) settle sends whose response was lost,
and what stays unknown or fails reaches the agents' console."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from graph.base.settings import OutboxSettings, TwilioSettings
from server import outbox
from tests.channels_helpers import load_fixture, sign_twilio
from tests.integration.server.conftest import RunningServer
from tests.integration.server.console.conftest import console_for, new_phone

pytestmark = pytest.mark.integration

TWILIO_TOKEN = "twilio-status-token"
QUICK = OutboxSettings(send_timeout_s=0.3, status_wait_s=0.4, resends=1)
TEMPLATE = {"name": "order_update_v1", "language": "en"}


async def queue_reply(server: RunningServer, phone: str, text: str, provider: str = "meta") -> int:
    now = datetime.now(UTC)
    async with server.parts.pool.connection() as conn, conn.transaction():
        [row_id] = await outbox.enqueue_reply(
            conn, conversation_key=phone, recipient=phone, provider=provider, texts=[text],
            idempotency_key=f"test-{uuid.uuid4()}", last_customer_at=now, now=now,
            window_template=TEMPLATE)
    return row_id


async def lose_response(server: RunningServer, row_id: int) -> None:
    """A send whose response never came: attempted, outcome unknown, waiting for a status."""
    await server.rows("UPDATE outbox SET status = 'unconfirmed', attempts = 1,"
                      " next_attempt_at = now() + interval '1 minute' WHERE id = %s RETURNING id", row_id)


async def outbox_row(server: RunningServer, row_id: int) -> dict:
    [row] = await server.rows("SELECT * FROM outbox WHERE id = %s", row_id)
    return row


async def sleep_until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.02)


def twilio_status(phone: str, status: str = "delivered") -> dict[str, str]:
    sid = f"SM{uuid.uuid4().hex}"
    return {**load_fixture("twilio/status_delivered.form"), "MessageSid": sid, "SmsSid": sid,
            "MessageStatus": status, "SmsStatus": status, "To": f"whatsapp:+{phone}"}


async def test_twilio_status_callback_naming_the_row_settles_it(start_server):
    server = await start_server(run_workers=False, twilio=TwilioSettings(auth_token=TWILIO_TOKEN))
    phone = new_phone()
    row_id = await queue_reply(server, phone, "Your order shipped.", provider="twilio")
    await lose_response(server, row_id)
    form = twilio_status(phone)
    path = f"/webhooks/twilio?outbox_id={row_id}"  # as TwilioSender asks for it

    unsigned_query = sign_twilio(f"{server.url}/webhooks/twilio", form, TWILIO_TOKEN)
    response = await server.http.post(path, data=form, headers={"x-twilio-signature": unsigned_query})
    assert response.status_code == 403  # the query is part of what Twilio signs
    assert (await outbox_row(server, row_id))["status"] == "unconfirmed"

    signed = sign_twilio(f"{server.url}{path}", form, TWILIO_TOKEN)
    response = await server.http.post(path, data=form, headers={"x-twilio-signature": signed})
    assert response.status_code == 200
    row = await outbox_row(server, row_id)
    assert (row["status"], row["provider_message_id"]) == ("delivered", form["MessageSid"])


async def test_twilio_status_callback_behind_a_proxy(start_server):
    public = "https://switchboard.example/webhooks/twilio"
    server = await start_server(run_workers=False, twilio=TwilioSettings(
        auth_token=TWILIO_TOKEN, public_url=public))
    phone = new_phone()
    row_id = await queue_reply(server, phone, "On its way.", provider="twilio")
    await lose_response(server, row_id)
    form = twilio_status(phone, "sent")
    signed = sign_twilio(f"{public}?outbox_id={row_id}", form, TWILIO_TOKEN)
    response = await server.http.post(f"/webhooks/twilio?outbox_id={row_id}", data=form,
                                      headers={"x-twilio-signature": signed})
    assert response.status_code == 200
    assert (await outbox_row(server, row_id))["status"] == "sent"
    # An inbound message still comes to the bare public URL.
    message = load_fixture("twilio/text.form")
    response = await server.http.post("/webhooks/twilio", data=message, headers={
        "x-twilio-signature": sign_twilio(public, message, TWILIO_TOKEN)})
    assert response.status_code == 200


async def test_meta_status_naming_the_row_settles_it(start_server):
    server = await start_server(run_workers=False)
    phone = new_phone()
    row_id = await queue_reply(server, phone, "Here is your tracking link.")
    await lose_response(server, row_id)
    fake, message_id = server.fake_cloud_api, f"wamid.{uuid.uuid4().hex}"
    response = await server.post_meta(fake.envelope(fake.status_value(
        {"id": message_id, "to": phone, "type": "text", "biz_opaque_callback_data": str(row_id)},
        "read")))
    assert response.status_code == 200
    row = await outbox_row(server, row_id)
    assert (row["status"], row["provider_message_id"]) == ("read", message_id)


async def test_delivery_unknown_and_failed_reach_the_console(start_server):
    server = await start_server(run_workers=False, outbox=QUICK)
    worker, fake, phone = server.parts.outbox_worker, server.fake_cloud_api, new_phone()
    row_id = await queue_reply(server, phone, "Your refund of 20 GBP is approved.")
    async with server.parts.pool.connection() as conn:
        receipt_id = await outbox.enqueue_read_receipt(
            conn, provider="meta", recipient=phone, conversation_key=phone,
            inbound_message_id=f"wamid.inbound-{uuid.uuid4().hex}")
    # Both were claimed by a worker that died before its calls.
    await server.rows("UPDATE outbox SET status = 'sending', attempts = 1, claimed_until = now(),"
                      " next_attempt_at = now() + make_interval(secs => %s) WHERE id = ANY(%s)"
                      " RETURNING id", QUICK.status_wait_s, [row_id, receipt_id])
    await worker.run_once()
    row = await outbox_row(server, row_id)
    assert row["status"] == "unconfirmed"
    assert (await outbox_row(server, receipt_id))["status"] == "unknown"  # quietly

    await sleep_until(row["next_attempt_at"])
    fake.fail_next(None, http_status=503, delay_s=1.0)  # the resend's outcome is unknown too
    assert await worker.run_once() == 1
    row = await outbox_row(server, row_id)
    assert (row["status"], row["resends"]) == ("unconfirmed", 1)
    await sleep_until(row["next_attempt_at"])
    await worker.run_once()
    assert (await outbox_row(server, row_id))["status"] == "unknown"

    fake.fail_next(131050)  # opted out of marketing: refused, for good
    failed_id = await queue_reply(server, phone, "A new offer for you")
    await worker.run_once(datetime.now(UTC) + timedelta(seconds=10))  # past the pair limit
    assert (await outbox_row(server, failed_id))["status"] == "failed"

    events = await server.rows("SELECT kind, actor, payload FROM desk_events"
                               " WHERE conversation_key = %s ORDER BY id", phone)
    assert [(e["kind"], e["payload"]["outbox_id"]) for e in events] == [
        ("delivery_unknown", row_id), ("delivery_failed", failed_id)]
    assert events[0]["actor"] == "system" and events[0]["payload"]["message_kind"] == "text"

    console = await console_for(server, role="supervisor")
    try:
        ref = (await server.rows("SELECT ref FROM desk_conversations WHERE key = %s", phone))[0]["ref"]
        page = (await console.http.get(f"/console/c/{ref}")).text
    finally:
        await console.aclose()
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())  # what the agent reads
    assert (f"Delivery unknown : text message #{row_id} (no delivery status after 2 send(s):"
            " the customer may not have it) “Your refund of 20 GBP is approved.”") in text
    assert f"Delivery failed : text message #{failed_id} (the provider refused it: 131050" in text
