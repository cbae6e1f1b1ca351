"""The webhook server over real HTTP, with real Postgres, Redis and Chroma and in-process workers."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from graph.base.settings import TwilioSettings
from tests.channels_helpers import fixture_names, load_fixture, sign_meta, sign_twilio
from tests.integration.server.conftest import APP_SECRET, text_message

pytestmark = pytest.mark.integration


def new_phone() -> str:
    return "4479" + str(uuid.uuid4().int)[:8]


REPLIES = "SELECT body, idempotency_key FROM outbox WHERE conversation_key = %s AND kind = 'text' ORDER BY id"


async def test_meta_subscription_check(start_server):
    server = await start_server(run_workers=False)
    params = {"hub.mode": "subscribe", "hub.verify_token": "simulator-verify-token", "hub.challenge": "42"}
    ok = await server.http.get("/webhooks/meta", params=params)
    assert ok.status_code == 200 and ok.text == "42"
    bad = await server.http.get("/webhooks/meta", params={**params, "hub.verify_token": "nope"})
    assert bad.status_code == 403


@pytest.mark.parametrize("name", fixture_names("meta"))
async def test_every_signed_fixture_is_accepted_and_its_messages_stored(start_server, name):
    server = await start_server(run_workers=False)
    payload = load_fixture(name)
    response = await server.post_meta(payload)
    assert response.status_code == 200, response.text
    ids = [m["id"] for e in payload["entry"] for c in e["changes"]
           for m in c.get("value", {}).get("messages", [])]
    stored = await server.rows("SELECT provider_message_id FROM inbound_messages"
                               " WHERE provider_message_id = ANY(%s)", ids)
    assert {r["provider_message_id"] for r in stored} == set(ids)
    assert response.json()["stored"] + response.json()["duplicates"] == len(ids)


async def test_duplicate_delivery_stores_one_message_and_sends_one_reply(start_server):
    server = await start_server()
    phone = new_phone()
    payload = text_message(phone, "how long do refunds take?", message_id=f"wamid.dup{uuid.uuid4().hex}")
    first, second = await server.post_meta(payload), await server.post_meta(payload)
    assert first.json()["stored"] == 1 and second.json()["duplicates"] == 1
    replies = await server.wait_for(REPLIES, phone)
    await asyncio.sleep(1.0)  # room for a wrong second turn to show up
    assert len(await server.rows(REPLIES, phone)) == 1 and "5-7 working days" in replies[0]["body"]
    assert len(await server.rows("SELECT 1 FROM inbound_messages WHERE conversation_key = %s", phone)) == 1


async def test_burst_is_one_turn_in_timestamp_order(start_server):
    server = await start_server(debounce_s=1.0)
    phone, start = new_phone(), time.time() - 10
    texts = ["hello", "I have a question", "about refunds", "how long", "do they take?"]
    # Arrival order differs from the order the customer typed them in.
    for i in (2, 0, 4, 1, 3):
        await server.post_meta(text_message(phone, texts[i], timestamp=start + i))
    replies = await server.wait_for(REPLIES, phone)
    await asyncio.sleep(1.5)
    replies = await server.rows(REPLIES, phone)
    assert len(replies) == 1  # one turn, one reply
    state = await server.parts.core.conversations.state(phone)
    assert [m.content for m in state["messages"] if m.type == "human"] == texts


async def test_bad_signatures_malformed_and_oversize_bodies_store_nothing(start_server):
    server = await start_server(run_workers=False, max_body_bytes=10_000)
    phone = new_phone()
    payload = text_message(phone, "hi")
    body = json.dumps(payload).encode()
    missing = await server.http.post("/webhooks/meta", content=body, headers={"content-type": "application/json"})
    wrong = await server.post_meta(payload, secret="not-the-secret")
    tampered = await server.post_meta(body.replace(b"hi", b"yo"), signature=sign_meta(body, APP_SECRET))
    not_json = await server.post_meta(b"{not json")
    malformed = await server.post_meta({"object": "whatsapp_business_account", "entry": "x"})
    huge = await server.post_meta(text_message(phone, "x" * 20_000))
    assert [r.status_code for r in (missing, wrong, tampered, not_json, malformed, huge)] == [
        401, 403, 403, 400, 400, 413]
    assert await server.rows("SELECT 1 FROM inbound_messages WHERE conversation_key = %s", phone) == []


async def test_twilio_signature_is_checked(start_server):
    token = "twilio-test-token"
    server = await start_server(run_workers=False, twilio=TwilioSettings(auth_token=token))
    form = load_fixture("twilio/text.form")
    url = f"{server.url}/webhooks/twilio"
    good = await server.http.post("/webhooks/twilio", data=form,
                                  headers={"x-twilio-signature": sign_twilio(url, form, token)})
    assert good.status_code == 200 and good.text == "<Response/>"
    bad = await server.http.post("/webhooks/twilio", data={**form, "Body": "changed"},
                                 headers={"x-twilio-signature": sign_twilio(url, form, token)})
    assert bad.status_code == 403
    rows = await server.rows("SELECT body FROM inbound_messages WHERE provider = 'twilio'"
                             " AND provider_message_id = %s", form["MessageSid"])
    assert [r["body"] for r in rows] == [form["Body"]]


async def test_a_message_with_nul_characters_is_stored_and_answered(start_server):
    # Postgres refuses NUL in text: unhandled, it would fail every retry and lose the message.
    server = await start_server()
    phone = new_phone()
    response = await server.post_meta(text_message(phone, "how long do\u0000 refunds take?"))
    assert response.status_code == 200 and response.json()["stored"] == 1
    replies = await server.wait_for(REPLIES, phone)
    assert len(replies) == 1 and "5-7 working days" in replies[0]["body"]


async def test_database_down_answers_503_so_meta_retries(start_server):
    server = await start_server(run_workers=False)
    await server.parts.pool.close()
    response = await server.post_meta(text_message(new_phone(), "anyone there?"))
    assert response.status_code == 503


async def test_health_endpoints(start_server):
    server = await start_server(run_workers=False)
    assert (await server.http.get("/healthz")).json() == {"status": "ok"}
    ready = await server.http.get("/readyz")
    body = ready.json()
    outbox = body.pop("outbox")  # its counts: test_readyz_outbox.py
    assert ready.status_code == 200 and body == {
        "ready": True, "postgres": "ok", "redis": "ok", "chroma": "ok",
        "models": {"router": "offline", "agent": "offline"}}
    assert set(outbox) == {"failed_24h", "unknown_24h", "pending", "oldest_pending_s"}
    await server.parts.pool.close()
    down = await server.http.get("/readyz")
    assert down.status_code == 503 and down.json()["postgres"].startswith("error")
    assert down.json()["redis"] == "ok" and down.json()["outbox"].startswith("error")


async def test_a_rejected_message_is_logged_by_reason_never_by_content(start_server, caplog):
    server = await start_server(run_workers=False)
    phone = new_phone()
    payload = text_message(phone, "my card is 4111 1111 1111 1111")
    messages = payload["entry"][0]["changes"][0]["value"]["messages"]
    messages.append(dict(messages[0], id="wamid.x", timestamp="my card is 4111", type=["text"]))
    with caplog.at_level("WARNING", logger="server.routes.webhooks"):
        response = await server.post_meta(payload)
    assert response.status_code == 200 and response.json() == {
        "stored": 1, "duplicates": 0, "statuses": 0, "rejected": 1}
    logged = [r.getMessage() for r in caplog.records if r.name == "server.routes.webhooks"]
    assert len(logged) == 1 and "rejected 1" in logged[0] and "type must be a string" in logged[0]
    assert "4111" not in logged[0]


def username_only_message(user_id: str, text: str) -> dict:
    """A Meta webhook from a customer who shares only a username: no number anywhere."""
    payload = text_message("0", text)
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "Marta", "username": "@marta.k"}, "user_id": user_id}]
    message = value["messages"][0]
    del message["from"]
    message["from_user_id"] = user_id
    return payload


async def test_a_username_only_customer_is_answered_by_business_scoped_user_id(start_server):
    server = await start_server()
    user_id = "GB." + str(uuid.uuid4().int)[:20]
    conversation = f"bsuid:{user_id}"
    await server.post_meta(username_only_message(user_id, "how long do refunds take?"))
    [reply] = await server.wait_for(REPLIES, conversation)
    assert "5-7 working days" in reply["body"]
    # The reply and the read receipt go to the bare BSUID, which the Cloud API takes as
    # `recipient`; "bsuid:..." is never handed on as if it were a number.
    sends = await server.wait_for("SELECT recipient, status FROM outbox WHERE conversation_key = %s"
                                  " AND status IN ('sent', 'delivered', 'read')", conversation, count=2)
    assert {s["recipient"] for s in sends} == {user_id}
    [sent] = [s for s in server.fake_cloud_api.sent if s["to"] == user_id]
    assert sent["payload"]["recipient"] == user_id and "to" not in sent["payload"]
    [row] = await server.rows("SELECT phone FROM desk_conversations WHERE key = %s", conversation)
    assert row["phone"] is None  # the desk has no number for this customer, and invents none
    # A handoff keeps it that way.
    await server.post_meta(username_only_message(user_id, "I want to talk to a person"))
    await server.wait_for("SELECT 1 FROM desk_conversations WHERE key = %s AND state = 'PENDING_AGENT'",
                          conversation)
    [row] = await server.rows("SELECT phone FROM desk_conversations WHERE key = %s", conversation)
    assert row["phone"] is None
