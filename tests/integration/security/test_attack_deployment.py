"""Attacks on how Switchboard is deployed: the simulator, the fake Cloud API, the demo console
accounts and the API docs outside demo mode; published secrets, plain HTTP and leaky startup
output. HTTP attacks go to apps built with the attacked settings; CLI attacks run `switchboard`."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr

from graph.base.settings import ConsoleLoginSettings, MetaSettings, Settings, TwilioSettings
from server.app import create_app
from server.startup_checks import StartupRefused
from tests.integration.server.conftest import text_message
from tests.integration.server.console.conftest import CSRF, Console, new_address

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
ON_FILE = "447700900101"  # the demo store's verified customer
PUBLISHED_SECRET = "simulator-app-secret"
REAL_META = MetaSettings(app_secret=SecretStr("app-secret-of-the-shop"),
                         verify_token=SecretStr("verify-token-of-the-shop"),
                         access_token=SecretStr("access-token-of-the-shop"),
                         graph_url="http://127.0.0.1:9")  # a loopback fake may speak plain HTTP
TWILIO = TwilioSettings(auth_token=SecretStr("twilio-token-of-the-shop"), account_sid="AC0123")
PROXIED = ConsoleLoginSettings(trusted_proxy_hops=1)  # tests name their client address
DEPLOYMENTS = {  # settings that must never show a demo
    "twilio-only": {"twilio": TWILIO},
    "meta": {"meta": REAL_META},
    "behind-tls-proxy": {"host": "0.0.0.0", "public_url": "https://support.shop.example"},
    "demo-mode-off": {"demo_mode": "off"},
}
DEMO_ONLY = [("POST", "/simulator/api/send", {"phone": ON_FILE, "text": "where is HP-10002?"}),
             ("GET", f"/simulator/api/messages?phone={ON_FILE}", None),
             ("GET", "/simulator", None),
             ("POST", "/fake-graph/v23.0/100000000000001/messages", {"to": ON_FILE}),
             ("GET", "/docs", None), ("GET", "/redoc", None), ("GET", "/openapi.json", None)]


def settings_for(settings: Settings, **overrides) -> Settings:
    return settings.model_copy(update=overrides)


async def request(app, method: str, path: str, body: dict | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        return await http.request(method, path, json=body)


# --- The demo surface does not exist outside demo mode ---------------------------------------

@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
@pytest.mark.parametrize(("method", "path", "body"), DEMO_ONLY, ids=[p for _, p, _ in DEMO_ONLY])
async def test_demo_routes_do_not_exist_in_a_deployment(settings, deployment, method, path, body):
    app = create_app(settings_for(settings, **DEPLOYMENTS[deployment]))
    assert not app.state.demo_mode.on
    assert (await request(app, method, path, body)).status_code == 404


@pytest.mark.parametrize("path", ["/simulator", "/docs", "/openapi.json"])
async def test_the_demo_itself_still_has_them(settings, path):
    """The control: with nothing configured on 127.0.0.1, the README's demo is all there."""
    app = create_app(settings)
    assert app.state.demo_mode.on
    assert (await request(app, "GET", path)).status_code == 200


async def test_twilio_deployment_cannot_be_used_to_read_another_customers_order(start_server):
    """The hole found: the simulator trusted the on-file number it was told, and a Meta webhook
    signed with the published simulator secret would do the same."""
    server = await start_server(run_workers=False, twilio=TWILIO)
    marker = f"where is HP-10002? {uuid.uuid4().hex}"
    send = await server.http.post("/simulator/api/send", json={"phone": ON_FILE, "text": marker})
    read = await server.http.get("/simulator/api/messages", params={"phone": ON_FILE})
    forged = await server.post_meta(text_message(ON_FILE, marker), secret=PUBLISHED_SECRET)
    subscribe = await server.http.get("/webhooks/meta", params={
        "hub.mode": "subscribe", "hub.verify_token": "simulator-verify-token", "hub.challenge": "42"})
    assert (send.status_code, read.status_code, forged.status_code, subscribe.status_code) == (404,) * 4
    assert await server.rows("SELECT 1 FROM inbound_messages WHERE body = %s", marker) == []


async def test_meta_deployment_refuses_webhooks_signed_with_the_published_secret(start_server):
    server = await start_server(run_workers=False, meta=REAL_META)
    marker = f"forged {uuid.uuid4().hex}"
    forged = await server.post_meta(text_message(ON_FILE, marker), secret=PUBLISHED_SECRET)
    genuine = await server.post_meta(text_message(ON_FILE, marker), secret="app-secret-of-the-shop")
    assert (forged.status_code, genuine.status_code) == (403, 200)
    assert len(await server.rows("SELECT 1 FROM inbound_messages WHERE body = %s", marker)) == 1


# --- Demo accounts ----------------------------------------------------------------------------

@pytest.fixture
async def fresh_database(database_url):
    """A database of this test's own: a first start sees no agents at all."""
    name = f"switchboard_fresh_{uuid.uuid4().hex[:10]}"
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo(database_url, dbname=name)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def login(server, agent_id: str, password: str) -> Console:
    console = Console(server, agent_id)
    assert (await console.login(password)).status_code == 303
    return console


async def attempt_login(server, agent_id: str, password: str) -> httpx.Response:
    """From an address of its own, so the login backoff answers for no other attempt."""
    console = Console(server, agent_id, new_address())
    try:
        return await console.login(password)
    finally:
        await console.aclose()


async def test_demo_accounts_live_and_die_with_demo_mode(fresh_database, start_server):
    database = {"database_url": fresh_database}
    real = await start_server(run_workers=False, twilio=TWILIO, server_options=database)
    assert await real.rows("SELECT id FROM desk_agents") == []  # never created outside demo mode

    demo = await start_server(run_workers=False, server_options=database)
    rows = await demo.rows("SELECT id, demo, active FROM desk_agents ORDER BY id")
    assert [tuple(r.values()) for r in rows] == [("demo", True, True), ("sam", True, True)]
    supervisor = await login(demo, "demo", "demo")
    page = (await supervisor.http.get("/console")).text
    assert "demo account" in page and "Demo account: its password is" in page

    again = await start_server(run_workers=False, twilio=TWILIO, server_options=database,
                               console_login=PROXIED)
    for agent_id in ("demo", "sam"):  # the published passwords no longer open anything
        assert (await attempt_login(again, agent_id, agent_id)).status_code == 401
    ended = await supervisor.http.get(f"{again.url}/console")
    assert ended.status_code == 303 and ended.headers["location"] == "/console/login"
    await supervisor.aclose()


@pytest.mark.parametrize("agent_id", ["demo", "sam"])
async def test_demo_accounts_made_before_the_mark_are_disabled_too(fresh_database, start_server,
                                                                   agent_id):
    """A database from before `desk_agents.demo`: the published password gives the account away."""
    from server.console.auth import create_agent

    database = {"database_url": fresh_database}
    demo = await start_server(run_workers=False, server_options=database)
    await demo.rows("DELETE FROM desk_agents WHERE id = %s RETURNING id", agent_id)
    await create_agent(demo.parts.pool, agent_id, agent_id, agent_id, "supervisor")  # unmarked
    real = await start_server(run_workers=False, meta=REAL_META, server_options=database,
                              console_login=PROXIED)
    assert (await attempt_login(real, agent_id, agent_id)).status_code == 401
    [row] = await real.rows("SELECT demo, active FROM desk_agents WHERE id = %s", agent_id)
    assert (row["demo"], row["active"]) == (True, False)


async def test_a_real_account_shows_no_demo_badge(start_server):
    from tests.integration.server.console.conftest import console_for

    server = await start_server(run_workers=False)
    console = await console_for(server, "supervisor")
    try:
        page = (await console.http.get("/console")).text
        assert CSRF.search(page) and "demo account" not in page
    finally:
        await console.aclose()


# --- Settings that must refuse to start -------------------------------------------------------

def meta(**changes) -> MetaSettings:
    return REAL_META.model_copy(update=changes)


REFUSED = {  # settings -> the setting the one line must name
    "published-app-secret": ({"meta": meta(app_secret=SecretStr(PUBLISHED_SECRET))}, "META__APP_SECRET"),
    "published-verify-token": ({"meta": meta(verify_token=SecretStr("simulator-verify-token"))},
                               "META__VERIFY_TOKEN"),
    "published-access-token": ({"meta": meta(access_token=SecretStr("simulator-access-token"))},
                               "META__ACCESS_TOKEN"),
    "graph-url-only": ({"meta": MetaSettings.model_construct(graph_url="https://graph.facebook.com")},
                       "META__APP_SECRET"),
    "empty-app-secret": ({"meta": meta(app_secret=SecretStr(""))}, "META__APP_SECRET is empty"),
    "secrets-without-graph-url": ({"meta": meta(graph_url=None)}, "META__GRAPH_URL"),
    "graph-url-over-http": ({"meta": meta(graph_url="http://graph.facebook.com")}, "META__GRAPH_URL"),
    "twilio-without-token": ({"twilio": TwilioSettings.model_construct(
        auth_token=None, account_sid="AC0123", from_number=None, public_url=None)},
        "TWILIO__AUTH_TOKEN"),
    "demo-forced-next-to-twilio": ({"demo_mode": "on", "twilio": TWILIO}, "DEMO_MODE"),
    "twilio-api-over-plain-http": ({"twilio": TWILIO.model_copy(update={
        "api_base_url": "http://api.twilio.example"})}, "TWILIO__API_BASE_URL"),
    "all-interfaces-over-http": ({"host": "0.0.0.0"}, "HOST 0.0.0.0"),
    "public-ip-over-http": ({"host": "203.0.113.7"}, "HOST 203.0.113.7"),
    "ipv6-any-over-http": ({"host": "::"}, "HOST ::"),
    "public-url-over-http": ({"public_url": "http://support.shop.example"}, "PUBLIC_URL"),
    "public-url-not-http": ({"public_url": "javascript:alert(1)"}, "PUBLIC_URL"),
    "forced-demo-on-a-network": ({"demo_mode": "on", "host": "0.0.0.0"}, "HOST 0.0.0.0"),
    "localhost-lookalike": ({"host": "localhost.attacker.example"}, "HOST localhost.attacker"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_unsafe_settings_refuse_to_start(settings, case):
    overrides, named = REFUSED[case]
    with pytest.raises(StartupRefused) as refused:
        create_app(settings_for(settings, **overrides))
    message = str(refused.value)
    assert message.startswith("refusing to start: ") and named in message and "\n" not in message
    assert "of-the-shop" not in message  # it names settings, never their values


@pytest.mark.parametrize(("overrides", "demo"), [
    ({"host": "0.0.0.0", "public_url": "https://support.shop.example"}, False),
    ({"host": "0.0.0.0", "allow_insecure_http": True}, False),
    ({"host": "0.0.0.0", "allow_insecure_http": True, "demo_mode": "on"}, True),
    ({"host": "::1"}, True), ({"host": "localhost"}, True), ({"host": "127.0.0.2"}, True),
    ({"meta": REAL_META, "twilio": TWILIO}, False),
], ids=["tls-proxy", "insecure-by-choice", "demo-on-a-network-by-choice", "ipv6-loopback",
        "localhost", "loopback-range", "both-channels"])
def test_safe_settings_start(settings, overrides, demo):
    """The checks are not a blanket refusal: what they let through, and whether it demos."""
    assert create_app(settings_for(settings, **overrides)).state.demo_mode.on is demo


# --- The command line -------------------------------------------------------------------------

def run_cli(tmp_path: Path, command: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("META__", "TWILIO__", "DEMO_MODE", "HOST", "PUBLIC_URL"))}
    return subprocess.run([sys.executable, "-m", "server.cli", command], cwd=tmp_path,
                          env={**clean, "DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT), **env},
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("command", "env", "named"), [
    ("serve", {"META__GRAPH_URL": "https://graph.facebook.com",
               "META__ACCESS_TOKEN": "token-of-the-shop-xyz"}, "META__APP_SECRET"),
    ("worker", {"META__GRAPH_URL": "https://graph.facebook.com",
                "META__ACCESS_TOKEN": "token-of-the-shop-xyz"}, "META__VERIFY_TOKEN"),
    ("serve", {"HOST": "0.0.0.0"}, "HOST 0.0.0.0"),
    ("serve", {"DEMO_MODE": "yes-please"}, "DEMO_MODE"),
], ids=["serve-published-secret", "worker-published-secret", "serve-plain-http", "serve-bad-demo-mode"])
def test_cli_refuses_in_one_line_without_a_traceback(tmp_path, command, env, named):
    result = run_cli(tmp_path, command, **env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("refusing to start: ") and named in lines[0]
    assert "Traceback" not in result.stderr and "token-of-the-shop-xyz" not in result.stderr + result.stdout
    assert not (tmp_path / "data" / "postgres").exists()  # refused before anything started


def test_the_startup_report_masks_every_secret(settings):
    from graph.base.settings import ModelSettings
    from server.demo_mode import demo_mode
    from server.startup_checks import describe

    secrets = ["app-secret-of-the-shop", "verify-token-of-the-shop", "access-token-of-the-shop",
               "twilio-token-of-the-shop", "sk-router-key", "sk-agent-key", "pg-password-42",
               "redis-password-42", "hooks.slack.com/services/T000/B000/XXXX", "proxyuser:proxypass"]
    configured = settings_for(
        settings, meta=REAL_META, twilio=TWILIO,
        router=ModelSettings(model="gpt-4o-mini", api_key=SecretStr("sk-router-key"),
                             base_url="https://proxyuser:proxypass@llm.example/v1"),
        agent=ModelSettings(model="gpt-4o", api_key=SecretStr("sk-agent-key")),
        database_url=SecretStr("postgresql://switchboard:pg-password-42@db.internal:5432/support"),
        redis_url=SecretStr("redis://:redis-password-42@cache.internal:6379/0"),
        slack_webhook_url=SecretStr("https://hooks.slack.com/services/T000/B000/XXXX"))
    report = "\n".join(describe(configured, demo_mode(configured)))
    assert not [s for s in secrets if s in report], report
    for shown in ("db.internal:5432/support", "cache.internal:6379", "gpt-4o-mini at llm.example",
                  "META__APP_SECRET set", "demo mode: off", "twilio"):
        assert shown in report, report
