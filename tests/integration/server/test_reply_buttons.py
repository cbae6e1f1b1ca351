"""Reply buttons end to end: over real HTTP with real Postgres, Redis and Chroma, the bot's
offer of a human reaches the fake Cloud API as an interactive button message, and the
customer's tap (Meta's button_reply webhook, read as its title) hands the conversation off."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from nodes import prompts
from tests.integration.server.conftest import first_contact, text_message

pytestmark = pytest.mark.integration


def button_reply(phone: str, button_id: str, title: str, replying_to: str) -> dict:
    """A Meta webhook: the customer tapped the reply button `title` of our message `replying_to`."""
    payload = text_message(phone, "")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["text"]
    message.update(type="interactive", context={"from": "15550000001", "id": replying_to},
                   interactive={"type": "button_reply",
                                "button_reply": {"id": button_id, "title": title}})
    return payload


async def sent_interactive(server, phone: str, within_s: float = 20) -> dict:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if found := [m for m in server.fake_cloud_api.sent
                     if m["to"] == phone and m["type"] == "interactive"]:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no interactive message was sent")


async def test_the_offer_of_a_human_is_a_button_and_tapping_it_hands_off(start_server):
    server = await start_server()
    phone = "4479" + str(uuid.uuid4().int)[:8]
    await server.post_meta(text_message(phone, "Yes, that one"))
    offer = await sent_interactive(server, phone)
    # The text still says how to reach a person by typing; the button says it with one tap.
    assert offer["text"] == first_contact(prompts.CLARIFY_OFFER) and offer["choices"] == [prompts.HUMAN_BUTTON]
    assert offer["interactive"]["type"] == "button"
    [row] = await server.rows("SELECT kind, body, interactive FROM outbox WHERE conversation_key = %s"
                              " AND kind <> 'read_receipt'", phone)
    assert row["kind"] == "text" and row["body"] == first_contact(prompts.CLARIFY_OFFER)
    assert row["interactive"] == {"choices": [{"id": "human", "title": prompts.HUMAN_BUTTON}]}

    # The simulator page shows the button under the message.
    shown = (await server.http.get("/simulator/api/messages", params={"phone": phone})).json()
    assert [m["choices"] for m in shown["messages"] if m["from"] == "business"] == [
        [prompts.HUMAN_BUTTON]]

    [button] = offer["interactive"]["action"]["buttons"]
    tap = button_reply(phone, button["reply"]["id"], button["reply"]["title"], offer["id"])
    assert (await server.post_meta(tap)).json()["stored"] == 1
    turns = await server.wait_for("SELECT outcome, reason FROM turns WHERE conversation_key = %s"
                                  " ORDER BY committed_at", phone, count=2)
    assert [(t["outcome"], t["reason"]) for t in turns] == [
        ("replied", None), ("handoff", "customer_request")]
    await server.wait_for("SELECT 1 FROM desk_conversations WHERE key = %s"
                          " AND state = 'PENDING_AGENT'", phone)
    # The handoff notice is plain text: nothing more to choose.
    texts = await server.wait_for("SELECT body, interactive FROM outbox WHERE conversation_key = %s"
                                  " AND kind = 'text' ORDER BY id", phone, count=2)
    assert texts[1]["interactive"] is None and "ticket" in texts[1]["body"]
