"""Opt-out, opt-in and first contact end to end: signed webhooks into a real server (Postgres,
Redis, Chroma), turns run by its worker, replies sent by its outbox to the fake Cloud API."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from graph.base.audit import timeline
from nodes import prompts
from nodes.prompts_i18n import localized
from server import outbox
from server.conversation_ids import ref as ref_of
from tests.integration.server.conftest import RunningServer, text_message
from tests.integration.server.console.conftest import console_for, handed_off, new_phone, ref_for

pytestmark = pytest.mark.integration


def said(server: RunningServer, text: str, language: str = "en") -> str:
    return prompts.fill(localized(text, language), server.parts.settings.business)


def texts_to(server: RunningServer, phone: str) -> list[str]:
    return [m["text"] or "" for m in server.fake_cloud_api.sent
            if m["to"] == phone and m["type"] in ("text", "interactive")]


async def sent_count(server: RunningServer, phone: str, count: int, within_s: float = 20) -> list[str]:
    deadline = time.monotonic() + within_s
    while True:
        texts = texts_to(server, phone)
        if len(texts) >= count or time.monotonic() > deadline:
            return texts
        await asyncio.sleep(0.05)


async def turns_of(server: RunningServer, phone: str, count: int) -> list[tuple]:
    rows = await server.wait_for("SELECT outcome, reason FROM turns WHERE conversation_key = %s"
                                 " ORDER BY committed_at", phone, count=count)
    assert len(rows) == count, rows
    return [(r["outcome"], r["reason"]) for r in rows]


async def consent_of(server: RunningServer, phone: str) -> dict:
    [row] = await server.rows("SELECT * FROM customer_consent WHERE conversation_key = %s", phone)
    return row


async def audit_of(server: RunningServer, phone: str) -> list[tuple]:
    async with server.parts.pool.connection() as conn:
        events = await timeline(conn, ref_of(phone))
    return [(e["kind"], e["actor"], e["payload"].get("source"), e["payload"].get("keyword"),
             e["reason"]) for e in events if e["kind"] in ("opt_in", "opt_out")]


async def test_stop_is_confirmed_once_and_then_nothing_is_sent_until_start(start_server):
    server = await start_server()
    phone = new_phone()
    first_at = int(time.time())
    await server.post_meta(text_message(phone, "Hi there", timestamp=first_at))
    [first] = await sent_count(server, phone, 1)
    # First contact: the business says who it is, once, before the reply.
    assert first.startswith(said(server, prompts.FIRST_CONTACT) + "\n\n")
    consent = await consent_of(server, phone)
    assert consent["status"] == "opted_in" and consent["opted_in_source"] == "customer_initiated"
    assert consent["opted_in_at"] == datetime.fromtimestamp(first_at, UTC)
    assert consent["identified_at"] is not None

    # A reply queued before the STOP (due later) must not go once the STOP is in.
    async with server.parts.pool.connection() as conn, conn.transaction():
        later = datetime.now(UTC) + timedelta(seconds=30)
        [queued] = await outbox.enqueue_reply(
            conn, conversation_key=phone, recipient=phone, provider="meta", texts=["Your order shipped"],
            idempotency_key=f"test:{phone}", last_customer_at=later, now=later, window_template={})

    opt_outs = REGISTRY.get_sample_value("switchboard_opt_outs_total") or 0.0
    await server.post_meta(text_message(phone, "STOP."))
    texts = await sent_count(server, phone, 2)
    assert texts[1] == said(server, prompts.OPT_OUT_CONFIRMED)  # the one message that still goes
    assert await turns_of(server, phone, 2) == [("replied", None), ("replied", None)]
    [row] = await server.rows("SELECT status, last_error FROM outbox WHERE id = %s", queued)
    assert row["status"] == "failed" and row["last_error"]["code"] == "opted_out"
    problem = await server.wait_for("SELECT reason FROM desk_events WHERE conversation_key = %s"
                                    " AND kind = 'delivery_failed'", phone)
    assert problem and "opted out" in problem[0]["reason"]  # agents see it was not sent

    # A repeated STOP is recorded, not confirmed; a question gets no bot answer.
    await server.post_meta(text_message(phone, "stop"))
    await turns_of(server, phone, 3)
    await server.post_meta(text_message(phone, "where is my order HP-10001?"))
    assert (await turns_of(server, phone, 4))[2:] == [("silent", "opted_out"), ("silent", "opted_out")]
    assert REGISTRY.get_sample_value("switchboard_opt_outs_total") == opt_outs + 1  # once, not per STOP
    await asyncio.sleep(0.5)
    assert len(texts_to(server, phone)) == 2
    # The bot never answered the STOPs or the question: only the confirmation was queued.
    rows = await server.rows("SELECT consent_notice, status FROM outbox WHERE conversation_key = %s"
                             " AND kind = 'text' ORDER BY id", phone)
    assert [(r["consent_notice"], r["status"] == "failed") for r in rows] == [
        (False, False), (False, True), (True, False)]
    kinds = [r["kind"] for r in await server.rows(
        "SELECT kind FROM desk_events WHERE conversation_key = %s ORDER BY id", phone)]
    assert "opt_out" in kinds and "opted_out_message" in kinds and "customer_message" in kinds

    # The console: the page says so, and a send is refused with a 4xx, free text or template.
    console = await console_for(server)
    try:
        ref = await ref_for(server, phone)
        page = await console.http.get(f"/console/c/{ref}")
        assert 'id="opted-out-notice"' in page.text and "opted out" in page.text
        refused = await console.act(ref, "reply", text="Hello again!")
        assert refused.status_code == 409 and "opted out" in refused.text
        refused = await console.act(ref, "reply", template="order_update_v1")
        assert refused.status_code == 409
        assert not await server.rows("SELECT 1 FROM outbox WHERE conversation_key = %s"
                                     " AND idempotency_key LIKE 'agent:%%'", phone)
    finally:
        await console.aclose()

    # START opts back in, confirmed once; then the bot answers again, without re-introducing.
    await server.post_meta(text_message(phone, "Start!"))
    texts = await sent_count(server, phone, 3)
    assert texts[2] == said(server, prompts.OPT_IN_CONFIRMED)
    consent = await consent_of(server, phone)
    assert consent["status"] == "opted_in" and consent["opted_in_source"] == "keyword"
    assert consent["opted_out_source"] == "keyword" and consent["opted_out_at"] is not None
    await server.post_meta(text_message(phone, "thanks"))
    texts = await sent_count(server, phone, 4)
    assert len(texts) == 4 and prompts.fill(prompts.FIRST_CONTACT, server.parts.settings.business) not in texts[3]
    assert sum(said(server, prompts.FIRST_CONTACT) in t for t in texts) == 1

    assert await audit_of(server, phone) == [
        ("opt_in", "customer", "customer_initiated", None, "first message"),
        ("opt_out", "customer", "keyword", "stop", None),
        ("opt_out", "customer", "keyword", "stop", "already opted out"),
        ("opt_in", "customer", "keyword", "start", None)]


async def test_messages_queued_for_an_opted_out_customer_end_failed_and_the_desk_sees_them(start_server):
    """Whatever path queues it (the SLA watcher's template, a CSAT prompt, a template outside the
    window), the outbox refuses it for an opted-out customer and tells the agents."""
    server = await start_server()
    phone = new_phone()
    await server.post_meta(text_message(phone, "BAJA"))
    [confirmation] = await sent_count(server, phone, 1)
    assert confirmation == said(server, prompts.OPT_OUT_CONFIRMED, "es")  # the keyword's language
    consent = await consent_of(server, phone)
    assert consent["status"] == "opted_out" and consent["opted_in_at"] is None
    now = datetime.now(UTC)
    async with server.parts.pool.connection() as conn, conn.transaction():
        template_ids = await outbox.enqueue_reply(
            conn, conversation_key=phone, recipient=phone, provider="meta", texts=["We miss you"],
            idempotency_key=f"dormant:{phone}", last_customer_at=now - timedelta(days=3), now=now,
            window_template={"name": "order_update_v1", "language": "en"})
    rows = await server.rows("SELECT kind, status, last_error FROM outbox WHERE id = ANY(%s)", template_ids)
    assert [(r["kind"], r["status"], r["last_error"]["code"]) for r in rows] == [
        ("template", "failed", "opted_out")]
    problem = await server.wait_for("SELECT reason FROM desk_events WHERE conversation_key = %s"
                                    " AND kind = 'delivery_failed'", phone)
    assert problem and "opted out" in problem[0]["reason"]
    await asyncio.sleep(0.5)
    assert [m["type"] for m in server.fake_cloud_api.sent if m["to"] == phone] == ["text"]


async def test_a_stop_during_a_handoff_is_confirmed_and_the_desk_sees_it(start_server):
    server = await start_server()
    phone = await handed_off(server)
    before = len(await sent_count(server, phone, 1))
    await server.post_meta(text_message(phone, "UNSUBSCRIBE"))
    texts = await sent_count(server, phone, before + 1)
    assert texts[-1] == said(server, prompts.OPT_OUT_CONFIRMED)
    events = await server.wait_for("SELECT reason, payload FROM desk_events WHERE conversation_key = %s"
                                   " AND kind = 'opt_out'", phone)
    assert events and events[0]["payload"] == {"keyword": "unsubscribe", "confirmed": True}
    [desk] = await server.rows("SELECT state FROM desk_conversations WHERE key = %s", phone)
    assert desk["state"] == "PENDING_AGENT"  # still the humans' conversation
    console = await console_for(server)
    try:
        ref = await ref_for(server, phone)
        assert (await console.act(ref, "reply", text="Hi, I'm Sam")).status_code == 409
    finally:
        await console.aclose()


async def test_an_agent_writing_first_identifies_the_business_once(start_server):
    server = await start_server()
    phone = new_phone()
    parts = server.parts
    async with parts.pool.connection() as conn, conn.transaction():  # a handoff before any reply
        await parts.desk.open_handoff(conn, key=phone, phone=phone, provider="meta", payload={
            "reference": "T-1", "reason": "customer_request", "priority": "normal"},
            now=datetime.now(UTC))
    console = await console_for(server)
    try:
        ref = await ref_for(server, phone)
        assert (await console.act(ref, "claim")).status_code == 200
        assert (await console.act(ref, "reply", text="Hola, soy Ana. ¿En qué puedo ayudarte?")).status_code == 200
        assert (await console.act(ref, "reply", text="¿Sigues ahí?")).status_code == 200
    finally:
        await console.aclose()
    first, second = await sent_count(server, phone, 2)
    assert first == said(server, prompts.FIRST_CONTACT, "es") + "\n\nHola, soy Ana. ¿En qué puedo ayudarte?"
    assert second == "¿Sigues ahí?"
    assert (await consent_of(server, phone))["identified_at"] is not None


async def test_a_sentence_with_stop_in_it_is_answered_by_the_bot(start_server):
    server = await start_server()
    phone = new_phone()
    await server.post_meta(text_message(phone, "please don't stop my order"))
    assert await turns_of(server, phone, 1) != [("silent", "opted_out")]
    assert (await consent_of(server, phone))["status"] == "opted_in"
    assert await audit_of(server, phone) == [
        ("opt_in", "customer", "customer_initiated", None, "first message")]
