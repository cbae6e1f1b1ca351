"""Late messages reach a human: through the real server (real HTTP, Postgres, Redis, workers).

A message that reaches us long after it was sent (Meta retries for 7 days after an outage)
is not answered by the bot: it goes to the human queue with how late it is, the agent sees it
(redacted) in the console, and the customer is told once, within the 24-hour window's rules.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.channels_helpers import load_fixture
from tests.integration.server.conftest import first_contact, text_message
from tests.integration.server.console.conftest import console_for, ref_for

pytestmark = pytest.mark.integration

HOUR = 3600
REPLIES = ("SELECT kind, body, template FROM outbox WHERE conversation_key = %s"
           " AND kind IN ('text', 'template') ORDER BY id")
DESK = "SELECT * FROM desk_conversations WHERE key = %s AND state = 'PENDING_AGENT'"
EVENTS = "SELECT * FROM desk_events WHERE conversation_key = %s AND kind = %s ORDER BY id"


def new_phone() -> str:
    return "4475" + str(uuid.uuid4().int)[:8]


async def handed_off(server, phone: str) -> dict:
    rows = await server.wait_for(DESK, phone, within_s=30)
    assert rows, "the late message was not handed to a human"
    return rows[0]


async def test_a_late_message_goes_to_a_human_with_how_late_and_a_template(start_server):
    server = await start_server()
    phone, sent = new_phone(), int(time.time()) - 30 * HOUR
    await server.post_meta(text_message(
        phone, "how long do refunds take? write to jo@example.com", timestamp=sent))
    row = await handed_off(server, phone)

    assert (row["reason"], row["priority"], row["state"]) == ("late_message", "high", "PENDING_AGENT")
    assert "30 hours" in row["summary"] and "[email]" in row["summary"]
    assert "jo@example.com" not in str(row)
    late = row["handoff"]["late"]
    assert late["messages"] == 1 and abs(late["late_by_s"] - 30 * HOUR) < 120
    assert row["first_response_due_at"] is not None and row["reference"].startswith("L-")
    # The 24-hour window runs from when the customer wrote, not from when it reached us.
    assert row["last_customer_at"] == datetime.fromtimestamp(sent, UTC)

    # Not answered by the bot: outside the window only the approved template goes out.
    replies = await server.wait_for(REPLIES, phone)
    await asyncio.sleep(0.5)  # room for a wrong bot answer to show up
    replies = await server.rows(REPLIES, phone)
    assert [(r["kind"], r["template"]["name"]) for r in replies] == [("template", "order_update_v1")]
    state = await server.parts.core.conversations.state(phone)
    assert not any("5-7 working days" in str(m.content) for m in state.get("messages", []))
    assert await server.parts.core.conversations.pending_handoff(phone) is not None

    [message] = await server.rows(EVENTS, phone, "customer_message")
    assert message["payload"]["text"] == "how long do refunds take? write to [email]"
    [event] = await server.rows(EVENTS, phone, "late_message")
    assert event["payload"]["opened_handoff"] is True and "30 hours" in event["reason"]
    [turn] = await server.rows("SELECT outcome, reason FROM turns WHERE conversation_key = %s", phone)
    assert turn == {"outcome": "handoff", "reason": "late_message"}
    [stored] = await server.rows("SELECT state, body FROM inbound_messages"
                                 " WHERE conversation_key = %s", phone)
    assert stored == {"state": "done", "body": "how long do refunds take? write to [email]"}

    # The agent sees it, redacted, and why it is there.
    console = await console_for(server)
    try:
        page = (await console.http.get(f"/console/c/{await ref_for(server, phone)}")).text
    finally:
        await console.aclose()
    assert "how long do refunds take? write to [email]" in page and "jo@example.com" not in page
    assert "late_message" in page and "30 hours" in page


async def test_several_late_messages_make_one_handoff_and_one_apology(start_server):
    server = await start_server()
    phone, sent = new_phone(), int(time.time()) - 50 * HOUR
    for i in range(2):  # a backlog delivered together
        await server.post_meta(text_message(phone, f"late message {i}", timestamp=sent + i))
    await handed_off(server, phone)
    await server.wait_for(REPLIES, phone)
    # More of the backlog arrives a little later, in turns of their own.
    await server.post_meta(text_message(phone, "late message 2", timestamp=sent + 2))
    await server.post_meta(text_message(phone, "late message 3", timestamp=sent + 3))
    messages = await server.wait_for(EVENTS, phone, "customer_message", count=4)
    assert [m["payload"]["text"] for m in messages] == [f"late message {i}" for i in range(4)]
    await asyncio.sleep(0.5)

    handoffs = await server.rows("SELECT 1 FROM desk_events WHERE conversation_key = %s"
                                 " AND kind = 'transition' AND to_state = 'PENDING_AGENT'", phone)
    assert len(handoffs) == 1
    assert len(await server.rows(REPLIES, phone)) == 1
    late = await server.rows(EVENTS, phone, "late_message")
    assert [e["payload"]["opened_handoff"] for e in late] == [True] + [False] * (len(late) - 1)
    assert sum(e["payload"]["messages"] for e in late) == 4


async def test_inside_the_window_the_customer_gets_a_free_text_apology(start_server):
    server = await start_server()
    phone = new_phone()
    await server.post_meta(text_message(phone, "how long do refunds take?"))
    await server.wait_for(REPLIES, phone)  # the bot answered this fresh message
    # Then a message held up for 26 hours turns up. The customer's last message is the fresh
    # one, so the 24-hour window is open and a free-text apology may go out.
    await server.post_meta(text_message(phone, "also, my sofa arrived broken",
                                        timestamp=time.time() - 26 * HOUR))
    row = await handed_off(server, phone)
    replies = await server.wait_for(REPLIES, phone, count=2)
    assert [r["kind"] for r in replies] == ["text", "text"]
    apology = replies[1]["body"]
    assert apology.startswith("Sorry for the delay") and row["reference"] in apology
    assert "colleague will reply" in apology
    assert row["last_customer_at"] > datetime.now(UTC) - timedelta(hours=1)


async def test_a_late_spanish_message_gets_the_apology_in_spanish(start_server):
    server = await start_server()
    phone = new_phone()
    await server.post_meta(text_message(phone, "hola, ¿cuánto tardan los reembolsos?"))
    await server.wait_for(REPLIES, phone)
    await server.post_meta(text_message(phone, "además, mi sofá llegó roto",
                                        timestamp=time.time() - 26 * HOUR))
    row = await handed_off(server, phone)
    replies = await server.wait_for(REPLIES, phone, count=2)
    apology = replies[1]["body"]
    assert apology.startswith("Perdona el retraso") and row["reference"] in apology


async def test_a_fresh_message_bundled_with_a_late_one_waits_for_the_human_too(start_server):
    server = await start_server()
    phone = new_phone()
    payload = text_message(phone, "my order never came", timestamp=time.time() - 40 * HOUR)
    fresh = text_message(phone, "how long do refunds take?")
    payload["entry"][0]["changes"][0]["value"]["messages"] += (
        fresh["entry"][0]["changes"][0]["value"]["messages"])
    assert (await server.post_meta(payload)).json()["stored"] == 2
    await handed_off(server, phone)
    messages = await server.wait_for(EVENTS, phone, "customer_message", count=2)
    assert [m["payload"]["text"] for m in messages] == ["my order never came",
                                                         "how long do refunds take?"]
    replies = await server.wait_for(REPLIES, phone)
    await asyncio.sleep(0.5)
    replies = await server.rows(REPLIES, phone)
    # The newest message is fresh, so the window is open: one apology, no bot answer.
    assert len(replies) == 1 and replies[0]["body"].startswith(first_contact("Sorry for the delay"))
    assert "5-7 working days" not in replies[0]["body"]


async def test_a_late_message_that_needs_no_reply_is_only_recorded(start_server):
    server = await start_server()
    phone = new_phone()
    reaction = load_fixture("meta/reaction")
    value = reaction["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = value["messages"][0]["from"] = phone
    value["messages"][0]["id"] = f"wamid.{uuid.uuid4().hex}"
    value["messages"][0]["timestamp"] = str(int(time.time()) - 7 * 24 * HOUR)
    await server.post_meta(reaction)
    await server.parts.turn_worker.sweep(everything=True)
    rows = await server.wait_for("SELECT state FROM inbound_messages WHERE conversation_key = %s"
                                 " AND state = 'stale'", phone)
    assert rows == [{"state": "stale"}]
    await asyncio.sleep(0.5)
    assert await server.rows(REPLIES, phone) == []
    assert await server.rows("SELECT 1 FROM desk_conversations WHERE key = %s", phone) == []
