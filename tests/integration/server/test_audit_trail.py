"""The audit trail through a real server (real Postgres, Redis, Chroma; the fake Cloud API
sends delivery statuses back as webhooks): every decision of a conversation, in order, with
nothing personal in it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from graph.base import audit
from graph.base.audit import AuditEvent, AuditKind
from graph.base.settings import ModelSettings
from server.conversation_ids import ref
from tests.fakes import ScriptedChatModel, route, tool_call
from tests.integration.server.conftest import RunningServer, text_message
from tests.integration.server.console.conftest import (
    console_for,
    handed_off,
    new_phone,
    ref_for,
    unique,
)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]

TRAIL = ("SELECT kind, actor, turn, reason, payload, model, tokens_in, tokens_out, cost_usd,"
         " prompt_version, intent, confidence FROM audit_events WHERE conversation_ref = %s"
         " ORDER BY at, id")


async def trail(server: RunningServer, key: str, until_kind: str, until_reason: str | None = None,
                within_s: float = 30) -> list[dict]:
    """The conversation's events once one of `until_kind` (with `until_reason`) is there."""
    await server.wait_for(
        "SELECT 1 FROM audit_events WHERE conversation_ref = %s AND kind = %s"
        " AND (%s::text IS NULL OR reason = %s)", ref(key), until_kind, until_reason, until_reason,
        within_s=within_s)
    return await server.rows(TRAIL, ref(key))


def kinds(events: list[dict]) -> list[str]:
    return [e["kind"] for e in events]


async def test_an_answered_question_its_model_calls_reply_and_delivery(start_server):
    router = ScriptedChatModel(steps=[route("product_question", confidence=0.8)])
    agent = ScriptedChatModel(steps=[tool_call(
        "Reply", usage=(1000, 200), answer="Our mugs are dishwasher safe.", citations=[],
        intent="product_question", handoff=False, confidence=0.9)])
    priced = ModelSettings(model="gpt-test", usd_per_million_in=2.0, usd_per_million_out=8.0)
    server = await start_server(agent=priced, server_options={"router_model": router,
                                                               "agent_model": agent})
    phone = new_phone()
    await server.post_meta(text_message(phone, "Are your mugs dishwasher safe?"))
    events = await trail(server, phone, "send", "delivered")
    turn_events = [e for e in events if e["kind"] != "send"]
    # The opt-in of a customer who writes first (dated when they wrote), the message; the
    # router's call, then its decision; the agent's call, then the reply it made.
    assert kinds(turn_events) == ["opt_in", "inbound", "model_call", "route", "model_call", "reply"]
    opted_in, inbound, router_call, routed, agent_call, replied = turn_events
    assert opted_in["payload"]["source"] == "customer_initiated"
    assert inbound["actor"] == "customer" and inbound["turn"] is None
    assert inbound["payload"]["type"] == "text" and inbound["payload"]["length"] == 30
    assert inbound["payload"]["language"] == "en"
    assert (routed["intent"], routed["confidence"], routed["payload"]["brain"]) == (
        "product_question", pytest.approx(0.8), "model")
    assert routed["turn"] == router_call["turn"] == agent_call["turn"] == replied["turn"] == 1
    assert router_call["payload"]["role"] == "router" and router_call["model"] == "scripted"
    assert (agent_call["model"], agent_call["tokens_in"], agent_call["tokens_out"]) == ("gpt-test", 1000, 200)
    assert float(agent_call["cost_usd"]) == pytest.approx(0.0036)
    assert agent_call["prompt_version"] and agent_call["prompt_version"] != router_call["prompt_version"]
    assert replied["actor"] == "bot" and replied["payload"]["parts"] == 1
    sends = [e["reason"] for e in events if e["kind"] == "send"]
    assert sends[0] == "sent" and "delivered" in sends  # the sender's record, then the webhook's
    assert {e["payload"]["source"] for e in events if e["kind"] == "send"} == {"sender", "status_webhook"}


async def test_the_offline_brain_a_verification_and_a_tool_call(start_server):
    server = await start_server()  # no model configured: the offline brain answers
    phone = new_phone()
    await server.post_meta(text_message(phone, "Where is my order?"))
    first = await trail(server, phone, "reply")
    assert kinds(first)[:4] == ["opt_in", "inbound", "model_call", "route"]
    assert first[3]["payload"]["brain"] == "offline"
    assert all(e["model"] == "offline" and float(e["cost_usd"]) == 0
               for e in first if e["kind"] == "model_call")
    await server.post_meta(text_message(phone, "HP-10007 99ZZ"))  # a wrong postcode
    failed = await trail(server, phone, "verification", "failed")
    verification = [e for e in failed if e["kind"] == "verification"][0]
    assert verification["turn"] == 2 and verification["actor"] == "customer"
    assert verification["payload"]["method"] == "order_claim"
    assert verification["payload"]["attempts"][0]["outcome"] == "failed"
    await server.post_meta(text_message(phone, "HP-10007 41JS"))
    events = await trail(server, phone, "tool_call")
    third = [e for e in events if e["turn"] == 3]
    assert kinds(third)[:3] == ["model_call", "route", "verification"]
    assert third[2]["reason"] == "verified"
    tool = [e for e in third if e["kind"] == "tool_call"][0]
    assert tool["payload"] == {"tool": "order_status", "arguments": {"order_id": "HP-10007"}}
    assert tool["reason"] == "success"
    assert kinds(third)[-1] == "reply"


async def test_a_handoff_and_the_console_return_are_on_the_trail(start_server):
    server = await start_server()
    phone = await handed_off(server)
    conversation = await ref_for(server, phone)
    console = await console_for(server)
    try:
        await console.act(conversation, "claim")
        await console.act(conversation, "reply", text="Hi, Sam here: your refund is approved.")
        await console.act(conversation, "return", notes="Refund approved.")
    finally:
        await console.aclose()
    events = await trail(server, phone, "return")
    handoff = [e for e in events if e["kind"] == "handoff"]
    assert [(e["actor"], e["reason"], e["turn"]) for e in handoff] == [("bot", "customer_request", 1)]
    agent = f"agent:{console.agent_id}"
    human = [(e["kind"], e["actor"], e["reason"]) for e in events if e["actor"] == agent]
    assert human == [("console", agent, "claimed"), ("console", agent, "agent_message"),
                     ("return", agent, "return_to_bot")]
    assert kinds(events).index("handoff") < kinds(events).index("console")
    assert "Sam here" not in json.dumps([e["payload"] for e in events])


async def test_no_number_email_or_customer_text_reaches_the_trail(start_server):
    server = await start_server()
    phone = new_phone()
    said = ["My email is jane.doe@example.com and my number is +44 7700 900123",
            "Call my husband on 07700 900456, his card is 4111 1111 1111 1111",
            "HP-10002 jane.doe@example.com",
            "the blue velvet sofa smells of wet dog, honestly furious"]
    for number, text in enumerate(said, start=1):  # one turn each
        await server.post_meta(text_message(phone, text))
        assert len(await server.wait_for("SELECT 1 FROM turns WHERE conversation_key = %s",
                                         phone, count=number, within_s=30)) == number
    events = await trail(server, phone, "send", "delivered")
    assert {"inbound", "route", "model_call", "reply"} <= set(kinds(events))
    everything = json.dumps(await server.rows(
        "SELECT * FROM audit_events WHERE conversation_ref = %s", ref(phone)), default=str)
    for secret in (phone, "jane.doe", "example.com", "7700", "900123", "900456", "4111",
                   "velvet", "wet dog", "furious"):
        assert secret not in everything, secret


async def test_the_console_shows_the_trail_to_agents_who_may_see_the_conversation(start_server):
    server = await start_server()
    phone = await handed_off(server)
    conversation = await ref_for(server, phone)
    await trail(server, phone, "handoff")
    teammate, stranger = await console_for(server), await console_for(server, team=unique("billing"))
    try:
        page = await teammate.http.get(f"/console/c/{conversation}")
        assert f'href="/console/c/{conversation}/audit"' in page.text
        panel = await teammate.http.get(f"/console/c/{conversation}/audit")
        assert panel.status_code == 200 and 'id="audit-trail"' in panel.text
        assert "<td>handoff</td>" in panel.text and "customer_request" in panel.text
        assert "<td>inbound</td>" in panel.text and phone not in panel.text
        refused = await stranger.http.get(f"/console/c/{conversation}/audit")
        assert refused.status_code == 403 and "customer_request" not in refused.text
        unknown = await teammate.http.get("/console/c/c_00000000000000000000/audit")
        assert unknown.status_code == 404
    finally:
        await teammate.aclose()
        await stranger.aclose()


def _cli(args: list[str], database_url: str, data_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(data_dir),
           "COLUMNS": "200", "TERM": "dumb"}
    return subprocess.run([sys.executable, "-m", "server.cli", "audit", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=180)


async def test_the_cli_prints_the_trail_by_ref_number_or_bsuid(start_server, database_url, data_dir):
    server = await start_server(run_workers=False)
    phone, bsuid = new_phone(), f"US.{uuid.uuid4().int % 10**18}"
    async with server.parts.pool.connection() as conn:
        await audit.record(conn, AuditEvent(kind=AuditKind.ROUTE, actor="bot", turn=1,
                                            conversation_ref=ref(phone), reason="query",
                                            intent="order_status", confidence=0.9,
                                            payload={"brain": "offline"}),
                           AuditEvent(kind=AuditKind.HANDOFF, actor="bot", turn=1,
                                      conversation_ref=ref(f"bsuid:{bsuid}"), reason="vip"))
    table = await asyncio.to_thread(_cli, [f"+{phone[:4]} {phone[4:]}"], database_url, data_dir)
    assert table.returncode == 0, table.stderr
    assert "Audit trail" in table.stdout and "route" in table.stdout
    assert "intent=order_status" in table.stdout and "brain=offline" in table.stdout
    as_json = await asyncio.to_thread(_cli, [ref(phone), "--format", "json"], database_url, data_dir)
    assert as_json.returncode == 0, as_json.stderr
    [line] = json.loads(as_json.stdout)
    assert (line["kind"], line["turn"], line["actor"], line["intent"]) == ("route", 1, "bot", "order_status")
    by_bsuid = await asyncio.to_thread(_cli, [bsuid, "--format", "json"], database_url, data_dir)
    assert [e["reason"] for e in json.loads(by_bsuid.stdout)] == ["vip"]
    unknown = await asyncio.to_thread(_cli, ["c_00000000000000000000"], database_url, data_dir)
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.strip() == "no audit events for that conversation"
    bad = await asyncio.to_thread(_cli, [ref(phone), "--format", "xml"], database_url, data_dir)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
