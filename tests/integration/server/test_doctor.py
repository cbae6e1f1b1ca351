"""`switchboard doctor` as a real process: real PostgreSQL and Redis, providers as real HTTP
fakes that refuse a wrong credential, and URLs where nothing (or something silent) listens."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.database import DatabaseUnreachable, check_database
from server.redis_client import RedisUnreachable, check_redis
from tests.conftest import free_port
from tests.integration.leftovers import (
    embedded_data_dir,  # noqa: F401 - a fixture
    processes_using,
    wait_until_none_left,
)
from tests.integration.provider_fakes import Providers, fields_of, start
from tests.integration.server.conftest import RedisServer

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "server.cli"]
OURS = ("DATABASE_URL", "REDIS_URL", "CHROMA_URL", "ROUTER__", "AGENT__", "EMBEDDINGS__",
        "TRANSCRIBE__", "META__", "TWILIO__", "DEMO_MODE", "HOST", "PORT", "PUBLIC_URL")


@pytest.fixture(scope="module")
def providers():
    fake = Providers()
    server = start(fake)
    yield fake
    server.shutdown()


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def silent_port():
    """A port that accepts connections and never says a word (a black-holed service)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # the kernel completes handshakes; nobody ever reads
        yield listener.getsockname()[1]


def doctor(tmp_path: Path, data_dir: Path | None = None, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    env.update(DATA_DIR=str(data_dir or tmp_path / "data"), COLUMNS="260", TERM="dumb", **settings)
    return subprocess.run([*CLI, "doctor"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=180)


def row(output: str, dependency: str) -> list[str]:
    """The cells of the table row for `dependency`."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells and cells[0] == dependency:
            return cells
    raise AssertionError(f"no row for {dependency}:\n{output}")


def models(providers: Providers, key: str, **extra: str) -> dict[str, str]:
    env = {}
    for prefix, model in (("ROUTER", "gpt-router"), ("AGENT", "gpt-agent"),
                          ("EMBEDDINGS", "text-embed"), ("TRANSCRIBE", "whisper-1")):
        env |= {f"{prefix}__MODEL": model, f"{prefix}__BASE_URL": f"{providers.url}/v1",
                f"{prefix}__API_KEY": key}
    return env | extra


def channels(providers: Providers, meta_token: str, twilio_token: str) -> dict[str, str]:
    return {"META__GRAPH_URL": f"{providers.url}/graph", "META__ACCESS_TOKEN": meta_token,
            "META__APP_SECRET": "shop-app-secret-1", "META__VERIFY_TOKEN": "shop-verify-1",
            "META__PHONE_NUMBER_ID": providers.phone_number_id,
            "TWILIO__ACCOUNT_SID": providers.twilio_sid, "TWILIO__AUTH_TOKEN": twilio_token,
            "TWILIO__API_BASE_URL": f"{providers.url}/twilio"}


def test_every_configured_dependency_answers(tmp_path, database_url, redis, providers):
    before = len(providers.requests)
    result = doctor(tmp_path, DATABASE_URL=database_url, REDIS_URL=redis.url,
                    **models(providers, providers.model_key),
                    **channels(providers, providers.meta_token, providers.twilio_token))
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    for dependency in ("PostgreSQL", "Redis", "Chroma", "Router model", "Agent model",
                       "Embeddings", "Transcription", "WhatsApp Cloud API", "Twilio"):
        assert row(result.stdout, dependency)[2] == "ok", out
    assert row(result.stdout, "PostgreSQL")[3].startswith("PostgreSQL 1"), out
    assert row(result.stdout, "Redis")[1] == f"127.0.0.1:{redis.port}", out
    assert row(result.stdout, "WhatsApp Cloud API")[3] == "number +1 555-010-0000", out
    for secret in (providers.model_key, providers.meta_token, providers.twilio_token,
                   "shop-app-secret-1"):
        assert secret not in out
    # Real calls: a one-token completion per chat model, the token in a header, never the URL.
    asked = providers.requests[before:]
    completions = [r for r in asked if r["path"] == "/v1/chat/completions"]
    assert len(completions) == 2 and all(json.loads(r["body"])["max_tokens"] == 1 for r in completions)
    graph = [r for r in asked if r["path"].startswith("/graph/")]
    assert graph and fields_of(graph[0]) == {"fields": ["display_phone_number"]}
    assert providers.meta_token not in graph[0]["query"]


def test_what_is_wrong_is_named_fast_and_no_secret_is_printed(tmp_path, providers):
    closed, started = free_port(), time.monotonic()
    result = doctor(tmp_path,
                    DATABASE_URL=f"postgresql://shop:pg-secret-pw@127.0.0.1:{closed}/support",
                    REDIS_URL=f"redis://:redis-secret-pw@127.0.0.1:{closed}/0",
                    CHROMA_URL=f"http://127.0.0.1:{closed}",
                    **models(providers, "sk-wrong-model-key",
                             AGENT__BASE_URL=f"http://127.0.0.1:{closed}/v1",
                             EMBEDDINGS__BASE_URL=f"{providers.url}/elsewhere"),
                    **channels(providers, "wrong-meta-token", "wrong-twilio-token"))
    elapsed, out = time.monotonic() - started, result.stdout + result.stderr
    assert result.returncode == 1, out
    assert elapsed < 30, elapsed  # each check is bounded; nothing waits out a pool timeout
    expected = {
        "PostgreSQL": "connection refused: nothing listens there (check DATABASE_URL)",
        "Redis": "connection refused: nothing listens there (check REDIS_URL)",
        "Chroma": "unreachable: connection refused: nothing listens there: check CHROMA_URL",
        "Router model": "unauthorised (HTTP 401): check ROUTER__API_KEY",
        "Agent model": "unreachable: connection refused: nothing listens there: check"
                       " AGENT__BASE_URL and AGENT__MODEL",
        "Embeddings": "not found (HTTP 404): check EMBEDDINGS__BASE_URL and EMBEDDINGS__MODEL",
        "Transcription": "unauthorised (HTTP 401): check TRANSCRIBE__API_KEY",
        "WhatsApp Cloud API": "unauthorised (HTTP 401): check META__ACCESS_TOKEN",
        "Twilio": "unauthorised (HTTP 401): check TWILIO__ACCOUNT_SID and TWILIO__AUTH_TOKEN",
    }
    for dependency, detail in expected.items():
        assert row(result.stdout, dependency)[2:] == ["FAILED", detail], out
    assert row(result.stdout, "PostgreSQL")[1] == f"127.0.0.1:{closed}/support"
    assert "9 failed" in result.stderr and "Traceback" not in out
    for secret in ("pg-secret-pw", "redis-secret-pw", "sk-wrong-model-key", "sk-wro",
                   "wrong-meta-token", "wrong-twilio-token", "Incorrect API key", "OAuth"):
        assert secret not in out, secret


def test_embedded_services_are_checked_and_left_stopped(tmp_path, embedded_data_dir):  # noqa: F811
    """Nothing configured: the embedded stores are started, checked and stopped again."""
    result = doctor(tmp_path, embedded_data_dir)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert row(result.stdout, "PostgreSQL")[1:3] == [f"embedded ({embedded_data_dir / 'postgres'})", "ok"]
    assert row(result.stdout, "Redis")[2] == "ok" and row(result.stdout, "Chroma")[2] == "ok"
    assert row(result.stdout, "Router model")[2:] == ["-", "offline brain, nothing to check"]
    assert row(result.stdout, "WhatsApp Cloud API")[3] == "simulator (demo mode), nothing to check"
    assert row(result.stdout, "Twilio")[3] == "not configured"
    assert not wait_until_none_left(embedded_data_dir, within_s=5)


async def test_the_database_check_says_why_within_its_limit(database_url, silent_port):
    from psycopg.conninfo import make_conninfo

    assert (await check_database(database_url)).split(".")[0].isdigit()
    with pytest.raises(DatabaseUnreachable, match="that database does not exist"):
        await check_database(make_conninfo(database_url, dbname="no_such_database_here"))
    with pytest.raises(DatabaseUnreachable, match="not a PostgreSQL URL"):
        await check_database("db.example.com:5432 with a typo")
    started = time.monotonic()
    with pytest.raises(DatabaseUnreachable, match="no answer within 3 s"):
        await check_database(f"postgresql://u:p@127.0.0.1:{silent_port}/x")
    assert time.monotonic() - started < 4.5


async def test_the_redis_check_says_why_within_its_limit(redis, silent_port):
    assert (await check_redis(redis.url))[0].isdigit()
    with pytest.raises(RedisUnreachable, match="not a redis://"):
        await check_redis("127.0.0.1:6379")
    started = time.monotonic()
    with pytest.raises(RedisUnreachable, match=f"Redis at 127.0.0.1:{silent_port}: no answer"):
        await check_redis(f"redis://127.0.0.1:{silent_port}/0")
    assert time.monotonic() - started < 3.5


async def test_an_unknown_phone_number_id_is_named(providers, settings):
    from graph.base.settings import MetaSettings
    from server.provider_checks import check_meta, http_client

    meta = MetaSettings(graph_url=f"{providers.url}/graph", access_token=providers.meta_token,
                        phone_number_id="999")
    async with http_client() as http:
        verdict = await check_meta(http, settings.model_copy(update={"meta": meta}))
    assert not verdict.ok and "check META__PHONE_NUMBER_ID" in verdict.detail


def test_processes_using_finds_a_running_embedded_redis(tmp_path):
    """The scan the cleanup tests rely on sees an embedded Redis (else they would pass vacuously)."""
    from server.redis_client import embedded_redis_url, stop_embedded_redis

    embedded_redis_url(tmp_path / "data")
    try:
        assert processes_using(tmp_path / "data")
    finally:
        stop_embedded_redis()
    assert not wait_until_none_left(tmp_path / "data", within_s=5)


async def test_a_silent_model_endpoint_is_named_within_the_limit(silent_port):
    from graph.base.settings import ModelSettings
    from server.provider_checks import bounded, check_chat_model, http_client

    config = ModelSettings(model="gpt-x", base_url=f"http://127.0.0.1:{silent_port}/v1")
    started = time.monotonic()
    async with http_client() as http:
        verdict = await bounded(check_chat_model(http, config, "AGENT"), "AGENT__BASE_URL")
    assert not verdict.ok and verdict.detail == ("unreachable: no answer within 5 s: check"
                                                 " AGENT__BASE_URL and AGENT__MODEL")
    assert time.monotonic() - started < 7
