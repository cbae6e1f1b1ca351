"""Attack: personal data at rest (issue 10, point 4). A customer sends card numbers, secrets,
e-mails, phones, bank and national ids and addresses through every field a WhatsApp message
has (text, captions, file names, button and list replies, forms, locations, shared contacts,
orders, edits, template buttons, unknown types; Twilio's form fields too). After the turn,
no table in Postgres holds the raw value: not the inbox (body or payload), checkpoints,
held messages, desk records, outbox or tickets.

Real server, real Postgres and Redis, signed webhooks. Every value is new per test, so a
value found is this test's leak and no other's."""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from typing import Any

import pytest

from graph.base.settings import TwilioSettings
from tests.channels_helpers import load_fixture, sign_twilio
from tests.integration.server.conftest import text_message
from tests.integration.server.console.conftest import handed_off

pytestmark = pytest.mark.integration
TWILIO_TOKEN = "twilio-pii-token"
SETTLED = ("SELECT state FROM inbound_messages WHERE provider_message_id = %s"
           " AND state IN ('done', 'skipped', 'stale')")


def new_phone() -> str:
    return "4476" + str(uuid.uuid4().int)[:8]


def card() -> str:
    """A new Visa-shaped number with a valid Luhn check digit."""
    body = "4" + "".join(random.choice("0123456789") for _ in range(14))
    total = sum(int(d) if i % 2 else (2 * int(d) - 9 if int(d) > 4 else 2 * int(d))
                for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def iban() -> str:
    """A new UK IBAN with valid check digits, in groups of four."""
    bban = "WEST" + "".join(random.choice("0123456789") for _ in range(14))
    check = 98 - int("".join(str(int(ch, 36)) for ch in bban + "GB00")) % 97
    return spaced(f"GB{check:02d}{bban}")


def spaced(number: str, sep: str = " ") -> str:
    return sep.join(number[i:i + 4] for i in range(0, len(number), 4))


def word() -> str:
    return "".join(random.choice("bcdfghjklmnpqrstvwxz") for _ in range(9))


def uk_mobile() -> str:
    return "07700 9" + str(random.randint(10000, 99999))


async def database_text(server) -> str:
    """Every row of every table, bytes decoded (checkpoint blobs are msgpack: strings stay UTF-8)."""
    tables = await server.rows("SELECT table_name FROM information_schema.tables"
                               " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
    parts = []
    for table in tables:
        for row in await server.rows(f'SELECT * FROM "{table["table_name"]}"'):
            for value in row.values():
                raw = isinstance(value, bytes | memoryview)
                parts.append(bytes(value).decode("utf-8", "ignore") if raw else str(value))
    return "\n".join(parts)


def leaked(stored: str, fragments: list[str]) -> list[str]:
    digits = re.sub(r"\D", "", stored)
    return [f for f in fragments if f in stored or (f.isdigit() and len(f) >= 12 and f in digits)]


def meta_message(phone: str, fields: dict[str, Any]) -> tuple[dict, str]:
    """A signed-ready webhook whose one message has `fields` (its type and content)."""
    payload = text_message(phone, "x")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["text"]
    message.update(fields)
    return payload, message["id"]


def meta_cases() -> list[tuple[str, Any]]:
    """(name, factory) pairs; a factory returns (message type, its content, fragments)."""
    def text_card():
        number = card()
        return "text", {"body": f"charge my card {spaced(number)} please"}, [number, spaced(number)]

    def text_obfuscated_email():
        local = word()
        return "text", {"body": f"mail me: {local} at example dot com"}, [local]

    def text_secrets():
        pw, key = word() + "9!", "sk-proj-" + word() + word()
        return "text", {"body": f"password: {pw} and my api key {key}"}, [pw, key]

    def image_caption():
        mobile, year = uk_mobile(), str(random.randint(1950, 1999))
        body = {"id": "1479536226449271", "mime_type": "image/jpeg", "sha256": "abc=",
                "caption": f"ring {mobile}, born 3 March {year}"}
        return "image", body, [mobile, mobile.replace(" ", "")]

    def document_filename():
        local = word()
        return "document", {"id": "2218439105237742", "mime_type": "application/pdf",
                            "filename": f"{local}@example.com invoice.pdf"}, [local]

    def button_reply_title():
        number = card()
        return "interactive", {"type": "button_reply", "button_reply": {
            "id": "pay", "title": spaced(number, "-")}}, [number]

    def list_reply_description():
        local = word()
        return "interactive", {"type": "list_reply", "list_reply": {
            "id": "r", "title": "Returns", "description": f"{local}@example.org"}}, [local]

    def flow_form_answers():
        street, account = word().title(), iban()
        answers = f'{{"address": "14 {street} Road, London SW1A 1AA", "iban": "{account}"}}'
        return "interactive", {"type": "nfm_reply", "nfm_reply": {
            "name": "flow", "body": "Sent", "response_json": answers}}, [street, account[5:]]

    def location():
        name, lat = word().title(), f"51.{random.randint(1000000, 9999999)}"
        return "location", {"latitude": float(lat), "longitude": -0.0753775,
                            "name": f"{name} House", "address": f"2 {name} Street, London SE1 2UP"}, [name, lat]

    def shared_contact():
        first, mobile = word().title(), "+44 7700 9" + str(random.randint(10000, 99999))
        return "contacts", [{
            "name": {"first_name": first, "formatted_name": f"{first} Shah"},
            "phones": [{"phone": mobile, "type": "CELL"}],
            "emails": [{"email": f"{first.lower()}@example.com"}]}], \
            [first, mobile, mobile.replace(" ", "")[1:]]

    def order_note():
        ssn = f"219-{random.randint(10, 99)}-{random.randint(1000, 9999)}"
        return "order", {"catalog_id": "1", "text": f"my SSN is {ssn}", "product_items": [
            {"product_retailer_id": "OAK-1", "quantity": 1, "item_price": 649, "currency": "GBP"}]}, [ssn]

    def edited_message():
        number = card()
        return "edit", {"original_message_id": "wamid.orig", "message": {
            "type": "text", "text": {"body": f"oops, card is {number}"}}}, [number]

    def template_button():
        ni = f"QQ {random.randint(10, 99)} {random.randint(10, 99)} {random.randint(10, 99)} C"
        return "button", {"text": f"NI {ni}", "payload": ni}, [ni]

    def unknown_type():
        local = word()
        return "poll", {"question": f"{local}@example.com"}, [local]

    def system_notice():
        mobile = "4477009" + str(random.randint(10000, 99999))
        return "system", {"body": f"User changed number to {mobile}", "type": "customer_changed_number"}, \
            [f"to {mobile}"]

    return [(f.__name__, f) for f in (
        text_card, text_obfuscated_email, text_secrets, image_caption, document_filename,
        button_reply_title, list_reply_description, flow_form_answers, location, shared_contact,
        order_note, edited_message, template_button, unknown_type, system_notice)]


@pytest.mark.parametrize("name, factory", meta_cases(), ids=[n for n, _ in meta_cases()])
async def test_meta_message_content_is_not_kept_raw(start_server, name, factory):
    server = await start_server()
    phone = new_phone()
    kind, content, fragments = factory()
    payload, message_id = meta_message(phone, {"type": kind, kind: content})
    response = await server.post_meta(payload)
    assert response.status_code == 200 and response.json()["stored"] == 1, response.text
    if kind == "system":  # starts no turn: stored redacted from the start
        await server.wait_for("SELECT 1 FROM inbound_messages WHERE provider_message_id = %s", message_id)
    else:
        assert await server.wait_for(SETTLED, message_id, within_s=30), "the turn did not finish"
    assert not leaked(await database_text(server), fragments)


async def test_messages_sent_while_a_human_owns_the_conversation(start_server):
    server = await start_server()
    phone = await handed_off(server)
    number, local = card(), word()
    payload = text_message(phone, f"card {spaced(number, '.')} and {local}(at)example.com")
    await server.post_meta(payload)
    assert await server.wait_for("SELECT 1 FROM desk_events WHERE conversation_key = %s"
                                 " AND kind = 'customer_message'", phone, within_s=30)
    assert not leaked(await database_text(server), [number, local])


async def test_a_resume_value_is_redacted_before_it_is_checkpointed(start_server):
    server = await start_server()
    phone = await handed_off(server)
    number, pw = card(), word() + "7#"
    await server.parts.core.conversations.resume(phone, {
        "action": "return_to_bot", "agent": "a1", "notes": f"customer pw is {pw}",
        "exchange": [{"from": "customer", "text": f"my card {spaced(number)}"},
                     {"from": "agent", "text": f"noted {spaced(number)}"}]})
    assert not leaked(await database_text(server), [number, pw])


def twilio_cases() -> list[tuple[str, Any]]:
    def body():
        number = card()
        return {"Body": f"card {spaced(number)}"}, [number]

    def list_and_profile():
        local, number = word(), card()
        return {"Body": "", "ListId": "r1", "ListTitle": f"{local}@example.com",
                "ProfileName": f"Liam {number}"}, [local, number]

    def button_text():
        mobile = uk_mobile()
        return {"Body": "", "MessageType": "button", "ButtonText": f"call {mobile}",
                "ButtonPayload": mobile}, [mobile]

    def location():
        street, lat = word().title(), f"51.{random.randint(1000000, 9999999)}"
        return {"Body": "", "MessageType": "location", "Latitude": lat, "Longitude": "-0.0753775",
                "Label": f"{street} Flat", "Address": f"2 {street} Rd, London SE1 2UP"}, [street, lat]

    return [(f.__name__, f) for f in (body, list_and_profile, button_text, location)]


@pytest.mark.parametrize("name, factory", twilio_cases(), ids=[n for n, _ in twilio_cases()])
async def test_twilio_form_content_is_not_kept_raw(start_server, name, factory):
    server = await start_server(twilio=TwilioSettings(auth_token=TWILIO_TOKEN))
    phone = new_phone()
    changes, fragments = factory()
    sid = "SM" + uuid.uuid4().hex
    form = {**load_fixture("twilio/text.form"), "MessageSid": sid, "SmsMessageSid": sid,
            "SmsSid": sid, "WaId": phone, "From": f"whatsapp:+{phone}", **changes}
    url = f"{server.url}/webhooks/twilio"
    response = await server.http.post("/webhooks/twilio", data=form, headers={
        "x-twilio-signature": sign_twilio(url, form, TWILIO_TOKEN)})
    assert response.status_code == 200, response.text
    assert await server.wait_for(SETTLED, sid, within_s=30), "the turn did not finish"
    assert not leaked(await database_text(server), fragments)


async def test_stored_payloads_keep_the_envelope(start_server):
    """The minimised payload still traces a message to its provider."""
    server = await start_server(run_workers=False)
    phone = new_phone()
    payload = text_message(phone, "hello", timestamp=time.time())
    await server.post_meta(payload)
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    (row,) = await server.rows("SELECT payload FROM inbound_messages WHERE provider_message_id = %s",
                               message["id"])
    assert row["payload"]["id"] == message["id"] and row["payload"]["from"] == phone
    assert row["payload"]["type"] == "text" and row["payload"]["text"] == {"body": "[dropped]"}


async def test_payloads_stored_before_minimisation_are_cut_down(start_server):
    """Rows written by an older version held the provider's whole JSON; the one-time migration
    (0002_minimise_legacy_payloads.sql, run here again on such a row) leaves only their
    top-level ids, type and time."""
    from server.migrations import DIRECTORY

    server = await start_server(run_workers=False)
    number, message_id = card(), f"wamid.legacy{uuid.uuid4().hex}"
    legacy = {"id": message_id, "from": "447700900123", "timestamp": "1795340001", "type": "text",
              "text": {"body": f"card {number}"}, "context": {"id": "wamid.x"}}
    async with server.parts.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO inbound_messages (provider, provider_message_id, conversation_key, kind,"
            " body, needs_turn, sent_at, payload, state) VALUES ('meta', %s, 'legacy', 'text',"
            " '[card]', true, now(), %s::jsonb, 'done')", (message_id, json.dumps(legacy)))
        await conn.execute((DIRECTORY / "0002_minimise_legacy_payloads.sql").read_text())
    (row,) = await server.rows("SELECT payload FROM inbound_messages WHERE provider_message_id = %s",
                               message_id)
    assert row["payload"] == {"id": message_id, "from": "447700900123", "timestamp": "1795340001",
                              "type": "text", "_minimised": "legacy"}
