"""Attacks on the agent console over real HTTP (real Postgres): password guessing, framing and
script injection, cookie theft over plain HTTP, hijacking a teammate's conversation, and phone
numbers leaking through URLs, alerts, live events and logs. Each case asserts the defence holds."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
import time
import uuid
from datetime import UTC, datetime

import httpx
import psycopg
import pytest

from graph.base.settings import ConsoleLoginSettings
from server import conversation_ids
from server.console.throttle import subject
from server.desk.notify import Alert, SlackNotifier
from tests.integration.server.conftest import RunningServer, text_message
from tests.integration.server.console.conftest import (
    CSRF,
    add_agent,
    console_for,
    handed_off,
    new_address,
    new_phone,
    ref_for,
    unique,
)

pytestmark = pytest.mark.integration
PASSWORD = "pw-for-tests"
OUTSIDER = "127.0.0.2"
"""A client address the ASGI server does not trust to forward (uvicorn trusts 127.0.0.1 only)."""
SLOW = ConsoleLoginSettings(backoff_base_s=60)
"""A first backoff no test outlasts, however loaded the machine: what is refused is exact."""
SLOW_PROXIED = SLOW.model_copy(update={"trusted_proxy_hops": 1})
FAST = ConsoleLoginSettings(backoff_base_s=0.001, backoff_max_s=0.01, trusted_proxy_hops=1)
"""Backoffs of milliseconds (the lockout stays 15 min), clients told apart by X-Forwarded-For."""


@pytest.fixture(autouse=True)
async def forget_local_failures(database_url):
    """Tests that guess from the socket peer (127.0.0.1) leave no backoff to the next test."""
    yield
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("DELETE FROM console_login_throttle WHERE scope = 'address' AND subject"
                           " = ANY(%s)", ([subject("address", a) for a in ("127.0.0.1", OUTSIDER)],))


async def try_login(http: httpx.AsyncClient, agent_id: str, password: str) -> httpx.Response:
    page = await http.get("/console/login")
    return await http.post("/console/login", data={
        "agent_id": agent_id, "password": password, "csrf_token": CSRF.search(page.text)[1]})


async def fail_until_locked(server: RunningServer, agent_id: str) -> list[int]:
    """Wrong passwords, each after the (millisecond) backoff, until the id is locked."""
    statuses = []
    async with httpx.AsyncClient(base_url=server.url, headers={"x-forwarded-for": new_address()}) as http:
        for _ in range(40):
            await asyncio.sleep(0.03)
            statuses.append((await try_login(http, agent_id, f"guess-{uuid.uuid4().hex[:6]}")).status_code)
            if statuses.count(401) >= FAST.lockout_failures:
                break
    return statuses


# --- Password guessing --------------------------------------------------------------------------

async def test_a_burst_of_guesses_then_the_right_password_does_not_log_in(start_server):
    server = await start_server(run_workers=False)  # default limits, the socket peer counts
    agent_id = await add_agent(server)
    statuses, refused = [], []
    async with httpx.AsyncClient(base_url=server.url) as http:
        token = CSRF.search((await http.get("/console/login")).text)[1]

        async def post(password: str) -> httpx.Response:
            return await http.post("/console/login", data={
                "agent_id": agent_id, "password": password, "csrf_token": token})

        started = time.monotonic()
        for i in range(60):
            statuses.append((await post(f"wrong-{i}")).status_code)
            if statuses[-1] == 401:  # a guess was checked: the right password now waits too
                refused.append(await post(PASSWORD))
        elapsed = time.monotonic() - started
    # The n-th checked guess comes 2^(n-1) - 1 s after the first at the earliest.
    assert 1 <= statuses.count(401) <= 1 + math.log2(elapsed + 1) and statuses.count(429) >= 55
    assert all(r.status_code == 429 and "Too many failed logins" in r.text for r in refused)
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert all("switchboard_session" not in r.headers.get("set-cookie", "") for r in refused)
    assert await server.rows("SELECT 1 FROM desk_sessions WHERE agent_id = %s", agent_id) == []


async def test_a_locked_account_refuses_the_right_password_until_the_lockout_ends(start_server):
    server = await start_server(run_workers=False, console_login=FAST)
    agent_id = await add_agent(server)
    statuses = await fail_until_locked(server, agent_id)
    assert statuses.count(401) == FAST.lockout_failures
    async with httpx.AsyncClient(base_url=server.url, headers={"x-forwarded-for": new_address()}) as http:
        locked = await try_login(http, agent_id, PASSWORD)  # another address: the id is locked
        assert locked.status_code == 429 and 800 <= int(locked.headers["retry-after"]) <= 900
        events = await server.rows("SELECT kind FROM console_login_events WHERE agent_id = %s"
                                   " AND kind = 'lockout'", agent_id)
        assert len(events) == 1
        async with server.parts.pool.connection() as conn:  # fifteen minutes later
            await conn.execute("UPDATE console_login_throttle SET blocked_until = now() - interval '1 s'"
                               " WHERE scope = 'account' AND subject = %s", (subject("account", agent_id),))
        assert (await try_login(http, agent_id, PASSWORD)).status_code == 303


async def test_a_lockout_looks_the_same_for_ids_that_do_not_exist(start_server):
    server = await start_server(run_workers=False, console_login=FAST)
    real, ghost = await add_agent(server), unique("nobody")
    seen = {}
    for agent_id in (real, ghost):
        statuses = await fail_until_locked(server, agent_id)
        async with httpx.AsyncClient(base_url=server.url, headers={"x-forwarded-for": new_address()}) as http:
            answer = await try_login(http, agent_id, PASSWORD)
        seen[agent_id] = (statuses.count(401), answer.status_code,
                          re.sub(r'value="[^"]*"|\d+ s', "", answer.text))
    assert seen[real] == seen[ghost] and seen[real][:2] == (FAST.lockout_failures, 429)


async def test_concurrent_guesses_get_one_password_check(start_server):
    server = await start_server(run_workers=False, console_login=SLOW_PROXIED)
    agent_id = await add_agent(server)
    async with httpx.AsyncClient(base_url=server.url, headers={"x-forwarded-for": new_address()}) as http:
        token = CSRF.search((await http.get("/console/login")).text)[1]
        answers = await asyncio.gather(*(http.post("/console/login", data={
            "agent_id": agent_id, "password": f"guess-{i}", "csrf_token": token}) for i in range(25)))
    assert sorted(a.status_code for a in answers) == [401] + [429] * 24


async def test_spraying_one_password_over_many_ids_backs_off_per_address(start_server):
    server = await start_server(run_workers=False, console_login=SLOW)
    async with httpx.AsyncClient(base_url=server.url) as http:
        statuses = [(await try_login(http, unique("id"), "Summer2025!")).status_code for _ in range(20)]
    assert statuses == [401] + [429] * 19


async def test_a_forged_x_forwarded_for_is_ignored_without_a_trusted_proxy(start_server):
    server = await start_server(run_workers=False, console_login=SLOW)  # trusted_proxy_hops = 0
    statuses = []
    for i in range(10):
        async with httpx.AsyncClient(base_url=server.url, headers={"x-forwarded-for": f"203.0.113.{i + 1}"},
                                     transport=httpx.AsyncHTTPTransport(local_address=OUTSIDER)) as http:
            statuses.append((await try_login(http, unique("id"), "guess")).status_code)
    assert statuses[0] == 401 and statuses[1:] == [429] * 9


async def test_behind_a_proxy_only_the_address_it_appended_counts(start_server):
    server = await start_server(run_workers=False, console_login=SLOW_PROXIED)
    client = new_address()
    statuses = []
    for i in range(8):  # the attacker writes anything to the left; the proxy appends the truth
        async with httpx.AsyncClient(base_url=server.url, headers={
                "x-forwarded-for": f"10.0.0.{i}, {client}"}) as http:
            statuses.append((await try_login(http, unique("id"), "guess")).status_code)
    assert statuses[0] == 401 and statuses[1:] == [429] * 7


async def test_the_limits_hold_across_server_processes(start_server):
    first = await start_server(run_workers=False, console_login=SLOW_PROXIED)
    second = await start_server(run_workers=False, console_login=SLOW_PROXIED)
    agent_id, address = await add_agent(first), new_address()
    for server, expected in ((first, 401), (second, 429)):
        async with httpx.AsyncClient(base_url=server.url, headers={"x-forwarded-for": address}) as http:
            assert (await try_login(http, agent_id, "wrong")).status_code == expected


async def test_failures_are_recorded_without_the_password_or_a_typed_password_as_id(start_server, caplog):
    server = await start_server(run_workers=False, console_login=FAST)
    caplog.set_level(logging.INFO)
    agent_id, typed_as_id = await add_agent(server), "MyS3cret-" + uuid.uuid4().hex[:6]
    for who, password, address in ((agent_id, "hunter2-" + uuid.uuid4().hex[:6], new_address()),
                                   (typed_as_id, "other-" + uuid.uuid4().hex[:6], new_address())):
        async with httpx.AsyncClient(base_url=server.url, headers={"x-forwarded-for": address}) as http:
            assert (await try_login(http, who, password)).status_code == 401
        assert password not in caplog.text
    rows = await server.rows("SELECT agent_id, address, failures FROM console_login_events"
                             " WHERE kind = 'failure' ORDER BY id DESC LIMIT 2")
    assert [r["agent_id"] for r in rows] == [None, agent_id] and all(r["failures"] == 1 for r in rows)
    assert typed_as_id not in caplog.text and f"agent {agent_id}" in caplog.text
    stored = await server.rows("SELECT subject FROM console_login_throttle")
    assert all(typed_as_id not in r["subject"] for r in stored)


# --- Headers: framing, injected script, sniffing, referrers --------------------------------------

@pytest.mark.parametrize("path", ["/console/login", "/console", "/console/events", "/healthz",
                                  "/webhooks/meta?hub.mode=subscribe", "/simulator",
                                  "/static/console.js", "/no-such-page"])
async def test_every_response_forbids_framing_inline_script_and_sniffing(start_server, path):
    server = await start_server(run_workers=False)
    response = await server.http.get(path, follow_redirects=False)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in ("no-referrer", "same-origin")


async def test_no_page_carries_inline_script_or_event_handlers(start_server):
    server = await start_server()
    phone = await handed_off(server)
    console = await console_for(server, role="supervisor")
    try:
        pages = [await console.http.get(path) for path in
                 ("/console", f"/console/c/{await ref_for(server, phone)}", "/simulator")]
        pages.append(await server.http.get("/console/login"))
        for page in pages:
            assert page.status_code == 200
            scripts = re.findall(r"<script\b[^>]*>", page.text, re.I)
            assert all("src=" in tag for tag in scripts), scripts
            assert not re.search(r"<[^>]+\son[a-z]+\s*=", page.text, re.I)
            for src in re.findall(r'<script[^>]*src="([^"]+)"', page.text):
                served = await console.http.get(src)
                assert served.status_code == 200 and "javascript" in served.headers["content-type"]
    finally:
        await console.aclose()


async def test_cookies_are_secure_when_the_public_url_is_https_even_over_a_plain_proxy_hop(start_server):
    server = await start_server(run_workers=False, public_url="https://desk.example.test")
    agent_id = await add_agent(server)
    async with httpx.AsyncClient(base_url=server.url) as http:  # the proxy talks plain http to us
        page = await http.get("/console/login")
        assert "secure" in page.headers["set-cookie"].lower()
        token = CSRF.search(page.text)[1]  # a browser on https sends the Secure cookie back
        login = await http.post("/console/login", headers={"cookie": f"switchboard_login_csrf={token}"},
                                data={"agent_id": agent_id, "password": PASSWORD, "csrf_token": token})
    session = [c for c in login.headers.get_list("set-cookie") if c.startswith("switchboard_session=")]
    assert login.status_code == 303 and session and "secure" in session[0].lower()


# --- Teams: transfers and taking a teammate's conversation ---------------------------------------

async def assigned_conversation(server: RunningServer, owner: str, team: str = "support") -> tuple[str, str]:
    key = new_phone()
    async with server.parts.pool.connection() as conn:
        await conn.execute("INSERT INTO desk_conversations (key, phone, state, team, assigned_agent,"
                           " last_customer_at) VALUES (%s, %s, 'AGENT', %s, %s, now())",
                           (key, key, team, owner))
    return key, await ref_for(server, key)


@pytest.mark.parametrize("team", ["no-such-team", "", "support<script>", "x" * 5000])
async def test_transfer_to_a_team_that_does_not_exist_is_refused(start_server, team):
    server = await start_server(run_workers=False)
    console = await console_for(server)
    key, ref = await assigned_conversation(server, console.agent_id)
    try:
        page = await console.act(ref, "transfer", team=team)
        assert page.status_code == 400 and ("no team" in page.text or "pick a team" in page.text)
        row = (await server.rows("SELECT state, team, assigned_agent FROM desk_conversations WHERE key = %s", key))[0]
        assert row == {"state": "AGENT", "team": "support", "assigned_agent": console.agent_id}
        assert await server.rows("SELECT 1 FROM desk_events WHERE conversation_key = %s", key) == []
    finally:
        await console.aclose()


@pytest.mark.parametrize("action,form", [("claim", {}), ("reply", {"text": "I'll take it from here"}),
                                         ("transfer", {"team": "support"}), ("return", {}), ("resolve", {})])
async def test_a_teammates_conversation_is_not_taken_implicitly(start_server, action, form):
    server = await start_server(run_workers=False)
    owner, rival = await console_for(server), await console_for(server)
    key, ref = await assigned_conversation(server, owner.agent_id)
    try:
        page = await rival.act(ref, action, **form)
        assert page.status_code == 409 and "Take over" in page.text and owner.agent_id in page.text
        row = (await server.rows("SELECT state, assigned_agent FROM desk_conversations WHERE key = %s", key))[0]
        assert row == {"state": "AGENT", "assigned_agent": owner.agent_id}
        assert await server.rows("SELECT 1 FROM desk_events WHERE conversation_key = %s", key) == []
        assert await server.rows("SELECT 1 FROM outbox WHERE conversation_key = %s", key) == []
    finally:
        await owner.aclose()
        await rival.aclose()


async def test_take_over_needs_csrf_and_the_team_and_is_recorded(start_server):
    server = await start_server(run_workers=False)
    owner, rival = await console_for(server), await console_for(server)
    outsider = await console_for(server, team=unique("billing"))
    key, ref = await assigned_conversation(server, owner.agent_id)
    try:
        forged = await rival.http.post(f"/console/c/{ref}/takeover", data={"csrf_token": owner.csrf})
        assert forged.status_code == 403
        assert (await outsider.act(ref, "takeover")).status_code == 403
        assert (await server.rows("SELECT assigned_agent FROM desk_conversations WHERE key = %s",
                                  key))[0]["assigned_agent"] == owner.agent_id
        page = await rival.act(ref, "takeover")
        assert page.status_code == 200 and f"Taken over from {owner.agent_id}" in page.text
        [event] = await server.rows("SELECT actor, kind, payload FROM desk_events WHERE conversation_key = %s", key)
        assert event == {"actor": f"agent:{rival.agent_id}", "kind": "taken_over",
                         "payload": {"from_agent": owner.agent_id, "to_agent": rival.agent_id}}
    finally:
        for console in (owner, rival, outsider):
            await console.aclose()


# --- Phone numbers out of URLs, alerts, live events and logs -------------------------------------

@pytest.mark.parametrize("suffix", ["", "/claim", "/takeover", "/note", "/reply", "/transfer",
                                    "/return", "/resolve", "/assign"])
async def test_phone_number_urls_are_not_found(start_server, suffix):
    server = await start_server(run_workers=False)
    boss = await console_for(server, role="supervisor")
    key, ref = await assigned_conversation(server, boss.agent_id)
    try:
        for guess in (key, f"+{key}", f"c_{hashlib.sha256(key.encode()).hexdigest()[:20]}"):
            if suffix:
                response = await boss.http.post(f"/console/c/{guess}{suffix}", data={
                    "csrf_token": boss.csrf, "text": "x", "team": "support", "agent_id": boss.agent_id})
            else:
                response = await boss.http.get(f"/console/c/{guess}")
            assert response.status_code == 404, guess
        assert await server.rows("SELECT 1 FROM desk_events WHERE conversation_key = %s", key) == []
        assert (await boss.http.get(f"/console/c/{ref}")).status_code == 200
        assert key not in ref and conversation_ids.is_ref(ref)
    finally:
        await boss.aclose()


async def test_slack_alerts_link_by_ref_and_name_no_phone(start_server):
    server = await start_server(run_workers=False)
    boss = await console_for(server, role="supervisor")
    key, ref = await assigned_conversation(server, boss.agent_id)
    notifier = SlackNotifier("https://hooks.slack.example/services/T/B/x", public_url="https://desk.example")
    alert = Alert(key=key, customer=None, priority="high", reason="customer_request", team="support",
                  due_at=datetime.now(UTC), minutes_to_breach=3)
    try:
        payload = json.dumps(notifier.payload(alert))
        assert key not in payload and f"https://desk.example/console/c/{ref}" in payload
        assert server.parts.desk.planner.permalink(key).endswith(f"/console/c/{ref}")
    finally:
        await boss.aclose()


async def test_live_events_and_logs_carry_the_ref_not_the_phone(start_server, caplog):
    caplog.set_level(logging.DEBUG, logger="server")
    server = await start_server()
    phone = await handed_off(server)
    ref = await ref_for(server, phone)
    console = await console_for(server)
    seen: list[str] = []

    async def listen(ready: asyncio.Event) -> None:
        async with console.http.stream("GET", "/console/events") as response:
            async for line in response.aiter_lines():
                ready.set()
                seen.append(line)

    ready = asyncio.Event()
    task = asyncio.create_task(listen(ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await server.post_meta(text_message(phone, "Hello? Anyone?"))
        await console.act(ref, "claim")
        await console.act(ref, "reply", text="Here now.")
        for _ in range(200):
            if sum(f'"ref": "{ref}"' in line for line in seen) >= 3:
                break
            await asyncio.sleep(0.05)
        data = [line for line in seen if line.startswith("data: ")]
        assert len(data) >= 3 and all(json.loads(d[6:])["ref"] == ref for d in data)
        assert phone not in "\n".join(seen)
        leaks = [r.getMessage() for r in caplog.records
                 if r.name.startswith("server") and phone in r.getMessage()]
        assert leaks == []
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await console.aclose()
