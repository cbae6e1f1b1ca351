"""The agent console over real HTTP: login, CSRF, team visibility, queue, actions, live events."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from langchain_core.messages import AIMessage

from graph.base.settings import ConsoleLoginSettings
from server.desk.desk import CSAT_PROMPT
from tests.integration.server.conftest import text_message
from tests.integration.server.console.conftest import (
    Console,
    add_agent,
    console_for,
    handed_off,
    new_address,
    new_phone,
    ref_for,
    unique,
)

pytestmark = pytest.mark.integration
OUTBOX = "SELECT kind, body, template FROM outbox WHERE conversation_key = %s AND kind <> 'read_receipt' ORDER BY id"


async def test_login_is_required_for_pages_api_and_actions(start_server):
    server = await start_server(run_workers=False)
    page = await server.http.get("/console")
    assert page.status_code == 303 and page.headers["location"] == "/console/login"
    assert (await server.http.get("/console/c/123")).headers["location"] == "/console/login"
    assert (await server.http.get("/console/events")).status_code == 401
    post = await server.http.post("/console/c/123/claim", data={"csrf_token": "x"})
    assert post.status_code == 303 and post.headers["location"] == "/console/login"
    async with httpx.AsyncClient(base_url=server.url, cookies={"switchboard_session": "forged"}) as forger:
        assert (await forger.get("/console")).status_code == 303


async def test_login_logout_and_wrong_password(start_server, caplog):
    # Short backoffs, and an address per client: this test is about answers, not about waiting.
    server = await start_server(run_workers=False, console_login=ConsoleLoginSettings(
        backoff_base_s=0.05, trusted_proxy_hops=1))
    agent_id = await add_agent(server, password="right-password")
    console = Console(server, agent_id, new_address())
    try:
        wrong = await console.login("wrong-password-xyz")
        unknown = await Console(server, "nobody-" + uuid.uuid4().hex[:6], new_address()).login("right-password")
        assert wrong.status_code == unknown.status_code == 401
        assert "Wrong agent id or password." in wrong.text and "Wrong agent id or password." in unknown.text
        assert "switchboard_session" not in console.http.cookies
        await asyncio.sleep(0.2)  # the id's backoff after one failure
        ok = await console.login("right-password")
        assert ok.status_code == 303 and ok.headers["location"] == "/console"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
        token = console.http.cookies["switchboard_session"]
        stored = await server.rows("SELECT token_hash, csrf_token, expires_at FROM desk_sessions"
                                   " WHERE agent_id = %s", agent_id)
        assert len(stored) == 1 and stored[0]["token_hash"] != token  # only the hash is stored
        assert timedelta(hours=11) < stored[0]["expires_at"] - datetime.now(UTC) <= timedelta(hours=12)
        seen = await server.rows("SELECT last_seen_at FROM desk_agents WHERE id = %s", agent_id)
        assert seen[0]["last_seen_at"] is not None
        assert (await console.http.get("/console")).status_code == 200
        out = await console.http.post("/console/logout", data={"csrf_token": console.csrf})
        assert out.status_code == 303
        assert await server.rows("SELECT 1 FROM desk_sessions WHERE agent_id = %s", agent_id) == []
        async with httpx.AsyncClient(base_url=server.url, cookies={"switchboard_session": token}) as old:
            assert (await old.get("/console")).status_code == 303  # the session is gone
        assert "right-password" not in caplog.text and "wrong-password-xyz" not in caplog.text
    finally:
        await console.aclose()


async def test_forms_without_the_csrf_token_are_refused(start_server):
    server = await start_server()
    phone = await handed_off(server)
    ref = await ref_for(server, phone)
    console = await console_for(server)
    try:
        missing = await console.http.post(f"/console/c/{ref}/claim")
        wrong = await console.http.post(f"/console/c/{ref}/note", data={"csrf_token": "guess", "text": "x"})
        assert missing.status_code == wrong.status_code == 403
        logout = await console.http.post("/console/logout")
        assert logout.status_code == 403
        async with httpx.AsyncClient(base_url=server.url) as fresh:
            login_without = await fresh.post(
                "/console/login", data={"agent_id": console.agent_id, "password": "pw-for-tests"})
        assert login_without.status_code == 403
        row = (await server.rows("SELECT state, assigned_agent FROM desk_conversations WHERE key = %s", phone))[0]
        assert row == {"state": "PENDING_AGENT", "assigned_agent": None}
        assert await server.rows("SELECT 1 FROM desk_events WHERE conversation_key = %s AND kind = 'note'",
                                 phone) == []
    finally:
        await console.aclose()


async def test_agents_see_only_their_team_supervisors_see_all(start_server):
    server = await start_server()
    phone = await handed_off(server)
    ref = await ref_for(server, phone)
    other = await console_for(server, team=unique("billing"))
    same = await console_for(server, team="support")
    boss = await console_for(server, role="supervisor", team=unique("elsewhere"))
    try:
        denied = await other.http.get(f"/console/c/{ref}")
        assert denied.status_code == 403 and "another team" in denied.text
        assert phone not in (await other.http.get("/console")).text
        claim = await other.http.post(f"/console/c/{ref}/claim", data={"csrf_token": other.csrf})
        assert claim.status_code == 403 and "another team" in claim.text
        for allowed in (same, boss):
            page = await allowed.http.get(f"/console/c/{ref}")
            assert page.status_code == 200 and "I want to talk to a human" in page.text
            assert phone in (await allowed.http.get("/console")).text
        assert (await boss.http.get("/console/c/no-such-key")).status_code == 404
        rows = await server.rows("SELECT state FROM desk_conversations WHERE key = %s", phone)
        assert rows[0]["state"] == "PENDING_AGENT"
    finally:
        for console in (other, same, boss):
            await console.aclose()


async def test_queue_is_ordered_by_sla_due_time_then_priority_with_filters(start_server):
    server = await start_server(run_workers=False)
    team = unique("queue")
    console = await console_for(server, team=team)
    now = datetime.now(UTC)
    rows = [("normal", 30, "PENDING_AGENT"), ("low", 10, "PENDING_AGENT"),
            ("urgent", 30, "AGENT"), ("high", -5, "PENDING_AGENT")]
    keys = {}
    async with server.parts.pool.connection() as conn:
        for priority, minutes, state in rows:
            key = new_phone()
            keys[priority] = key
            await conn.execute(
                "INSERT INTO desk_conversations (key, phone, state, team, priority, reason, topic,"
                " customer_name, first_response_due_at, last_customer_at, assigned_agent)"
                " VALUES (%s, %s, %s, %s, %s, 'customer_request', 'orders', %s, %s, now(), %s)",
                (key, key, state, team, priority, f"Customer {priority}", now + timedelta(minutes=minutes),
                 console.agent_id if state == "AGENT" else None))
    try:
        page = (await console.http.get("/console")).text
        order = [keys[p] for p in ("high", "low", "urgent", "normal")]
        positions = [page.index(f'data-ref="{await ref_for(server, key)}"') for key in order]
        assert positions == sorted(positions)
        assert 'class="sla breached"' in page and "breached" in page  # the overdue one is red
        assert "data-due=" in page and "left" in page
        pending = (await console.http.get("/console", params={"state": "PENDING_AGENT"})).text
        assert keys["urgent"] not in pending and keys["low"] in pending
        urgent = (await console.http.get("/console", params={"priority": "urgent"})).text
        assert keys["urgent"] in urgent and keys["low"] not in urgent
        mine = (await console.http.get("/console", params={"mine": "1"})).text
        assert keys["urgent"] in mine and keys["normal"] not in mine
    finally:
        await console.aclose()


async def test_claim_reply_note_and_the_window_rules(start_server):
    server = await start_server()
    phone = await handed_off(server)
    ref = await ref_for(server, phone)
    console = await console_for(server)
    try:
        page = await console.act(ref, "claim")
        assert "Claimed" in page.text
        row = (await server.rows("SELECT state, assigned_agent FROM desk_conversations WHERE key = %s", phone))[0]
        assert row == {"state": "AGENT", "assigned_agent": console.agent_id}
        assert 'name="text"' in page.text and 'id="reply-text"' in page.text  # free text: window open
        page = await console.act(ref, "reply", text="Hi, this is a human. Let me check.")
        assert "Sent." in page.text and "Hi, this is a human." in page.text
        sent = await server.wait_for(OUTBOX, phone, count=2)
        assert {"kind": "text", "body": "Hi, this is a human. Let me check.", "template": None} in sent
        page = await console.act(ref, "note", text="Customer sounds upset; refund likely.")
        assert "Customer sounds upset" in page.text
        notes = await server.rows("SELECT actor, payload FROM desk_events WHERE conversation_key = %s"
                                  " AND kind = 'note'", phone)
        assert notes == [{"actor": f"agent:{console.agent_id}",
                          "payload": {"text": "Customer sounds upset; refund likely."}}]
        # Outside the 24-hour window: no free text, a template works.
        async with server.parts.pool.connection() as conn:
            await conn.execute("UPDATE desk_conversations SET last_customer_at = now() - interval '2 days'"
                               " WHERE key = %s", (phone,))
        before = len(await server.rows(OUTBOX, phone))
        page = (await console.http.get(f"/console/c/{ref}")).text
        assert 'id="reply-text"' not in page and 'name="template"' in page and "order_update_v1" in page
        refused = await console.act(ref, "reply", text="Are you still there?")
        assert "24-hour window has closed" in refused.text
        assert len(await server.rows(OUTBOX, phone)) == before
        await console.act(ref, "reply", template="order_update_v1")
        sent = await server.rows(OUTBOX, phone)
        assert len(sent) == before + 1 and sent[-1]["kind"] == "template"
        assert sent[-1]["template"]["name"] == "order_update_v1"
    finally:
        await console.aclose()


async def test_return_to_bot_resumes_the_graph_with_the_human_exchange(start_server):
    server = await start_server()
    phone = await handed_off(server)
    ref = await ref_for(server, phone)
    console = await console_for(server)
    try:
        await console.act(ref, "claim")
        await console.act(ref, "reply", text="Your refund is approved, it arrives this week.")
        page = await console.act(ref, "return", notes="Refund approved by a human.")
        assert "Returned to the bot." in page.text
        row = (await server.rows("SELECT state, assigned_agent FROM desk_conversations WHERE key = %s", phone))[0]
        assert row == {"state": "BOT", "assigned_agent": None}
        state = await server.parts.core.conversations.state(phone)
        said = [m for m in state["messages"] if isinstance(m, AIMessage) and m.name == f"agent_{console.agent_id}"]
        assert [m.text for m in said] == ["Your refund is approved, it arrives this week."]
        assert state.get("handoff_notes") == "Refund approved by a human."
        again = await console.http.post(f"/console/c/{ref}/return", data={"csrf_token": console.csrf})
        assert again.status_code == 409 and "the conversation is BOT" in again.text
    finally:
        await console.aclose()


async def test_resolve_with_csat_asks_the_customer_and_closes(start_server):
    server = await start_server()
    phone = await handed_off(server)
    ref = await ref_for(server, phone)
    console = await console_for(server)
    try:
        await console.act(ref, "claim")
        page = await console.act(ref, "resolve", csat="1")
        assert "Resolved. CSAT prompt sent." in page.text
        row = (await server.rows("SELECT state FROM desk_conversations WHERE key = %s", phone))[0]
        assert row["state"] == "CLOSED"
        sent = await server.wait_for("SELECT body FROM outbox WHERE conversation_key = %s AND body = %s",
                                     phone, CSAT_PROMPT)
        assert len(sent) == 1
    finally:
        await console.aclose()


async def test_supervisor_assigns_and_agent_transfers(start_server):
    server = await start_server()
    phone = await handed_off(server)
    ref = await ref_for(server, phone)
    boss = await console_for(server, role="supervisor")
    agent = await console_for(server)
    try:
        page = await boss.act(ref, "assign", agent_id=agent.agent_id)
        assert f"Assigned to {agent.agent_id}" in page.text
        row = (await server.rows("SELECT state, assigned_agent FROM desk_conversations WHERE key = %s", phone))[0]
        assert row == {"state": "AGENT", "assigned_agent": agent.agent_id}
        refused = await agent.act(ref, "assign", agent_id=agent.agent_id)
        assert refused.status_code == 403 and "only supervisors assign" in refused.text
        team = unique("returns")
        await add_agent(server, team=team)  # transfers go to teams that exist
        await agent.act(ref, "transfer", team=team)
        row = (await server.rows("SELECT state, team, assigned_agent FROM desk_conversations WHERE key = %s", phone))[0]
        assert row == {"state": "PENDING_AGENT", "team": team, "assigned_agent": None}
        assert (await agent.http.get(f"/console/c/{ref}")).status_code == 403  # now another team's
    finally:
        await boss.aclose()
        await agent.aclose()


async def test_events_stream_delivers_desk_events_live(start_server):
    server = await start_server()
    phone = await handed_off(server)
    ref = await ref_for(server, phone)
    console = await console_for(server)
    outsider = await console_for(server, team=unique("other"))
    received: list[dict] = []
    outsider_received: list[dict] = []

    async def listen(client: httpx.AsyncClient, into: list[dict], ready: asyncio.Event) -> None:
        async with client.stream("GET", "/console/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                ready.set()
                if line.startswith("data: "):
                    into.append(json.loads(line[6:]))

    ready, outsider_ready = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(listen(console.http, received, ready)),
             asyncio.create_task(listen(outsider.http, outsider_received, outsider_ready))]
    try:
        await asyncio.wait_for(asyncio.gather(ready.wait(), outsider_ready.wait()), 10)
        await server.post_meta(text_message(phone, "Hello? Is anyone there?"))
        for _ in range(300):
            if any(e == {"ref": ref, "kind": "customer_message"} for e in received):
                break
            await asyncio.sleep(0.05)
        assert {"ref": ref, "kind": "customer_message"} in received
        assert all(e["ref"] != ref for e in outsider_received)  # another team's agent is not told
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await console.aclose()
        await outsider.aclose()


async def test_a_teammates_conversation_offers_take_over_not_claim(start_server):
    server = await start_server()
    phone = await handed_off(server)
    ref = await ref_for(server, phone)
    owner, mate = await console_for(server), await console_for(server)
    try:
        await owner.act(ref, "claim")
        page = (await mate.http.get(f"/console/c/{ref}")).text
        assert 'id="takeover"' in page and 'id="claim"' not in page and f"/console/c/{ref}/takeover" in page
        assert phone not in page.split("<main")[0]  # the title and head name no phone number
        taken = await mate.act(ref, "takeover")
        assert f"Taken over from {owner.agent_id}" in taken.text
        back = (await owner.http.get(f"/console/c/{ref}")).text
        assert f"Take over from {mate.agent_id}" in back and f"taken over from {owner.agent_id}" in back
    finally:
        await owner.aclose()
        await mate.aclose()
