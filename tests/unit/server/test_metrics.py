"""server/metrics.py and GET /metrics: names, bounded labels, values that follow events, the
breaker's gauge, the token, and one merged scrape from several processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from graph.base.settings import MetricsSettings, Settings
from graph.breaker import CircuitBreaker
from server import metrics
from server.deps import settings_of
from server.routes import metrics as metrics_route

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = {
    "switchboard_webhooks_total", "switchboard_webhook_ack_seconds",
    "switchboard_due_queue_lag_seconds", "switchboard_turn_seconds",
    "switchboard_model_calls_total", "switchboard_model_call_seconds",
    "switchboard_model_fallbacks_total", "switchboard_tool_calls_total",
    "switchboard_outbox_backlog", "switchboard_sends_total", "switchboard_send_failures_total",
    "switchboard_handoffs_total", "switchboard_sla_misses_total", "switchboard_breaker_state",
    "switchboard_opt_outs_total", "switchboard_prune_deleted_total"}


def ours() -> list[MetricWrapperBase]:
    return [v for v in vars(metrics).values() if isinstance(v, MetricWrapperBase)]


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_every_contract_metric_is_defined_once_and_named_switchboard():
    names = set()
    for metric in ours():
        # Counters are named without _total inside prometheus-client, and exported with it.
        name = metric._name + ("_total" if metric._type == "counter" else "")
        assert name.startswith("switchboard_")
        assert name not in names
        names.add(name)
    assert names == CONTRACT
    scrape = metrics.exposition().decode()  # this process's registry serves them all
    assert all(f"# HELP {name} " in scrape for name in CONTRACT)


@pytest.mark.parametrize(("raw", "expected"), [
    ("deadline", "deadline"), ("APIConnectionError", "apiconnectionerror"),
    ("+447700900123", "other"), ("I want to speak to a human now", "other"),
    ("x" * 41, "other"), (None, "other"), (131056, "131056")])
def test_labels_are_short_identifiers_or_other(raw, expected):
    assert metrics.label(raw) == expected


def test_a_label_outside_the_known_values_is_other():
    assert metrics.label("resolution", frozenset({"resolution"})) == "resolution"
    assert metrics.label("surprise", frozenset({"resolution"})) == "other"


def test_send_failure_codes_prefer_the_providers_code():
    assert metrics.error_code(131056, 400, "SendError") == "131056"
    assert metrics.error_code(None, 503, "SendError") == "http_503"
    assert metrics.error_code(None, None, "SendOutcomeUnknown") == "sendoutcomeunknown"


def test_counters_follow_events():
    before = value("switchboard_handoffs_total", reason="customer_asked")
    metrics.HANDOFFS.labels(reason=metrics.label("customer_asked")).inc()
    assert value("switchboard_handoffs_total", reason="customer_asked") == before + 1


async def test_the_breaker_gauge_follows_the_breaker_through_its_states():
    breaker = CircuitBreaker("agent-unit", failures=1, cool_off_s=0.05)
    breaker.listen(metrics.breaker_listener("agent_unit"))
    gauge = "switchboard_breaker_state"
    assert value(gauge, model="agent_unit") == 0  # told at once: closed

    async def fail() -> None:
        raise RuntimeError("down")

    async def succeed() -> str:
        assert value(gauge, model="agent_unit") == 1  # the trial call runs half-open
        return "ok"

    with pytest.raises(RuntimeError):
        await breaker.run(fail)
    assert value(gauge, model="agent_unit") == 2
    await asyncio.sleep(0.06)
    assert await breaker.run(succeed) == "ok"
    assert value(gauge, model="agent_unit") == 0


def app_with(settings: Settings) -> FastAPI:
    app = FastAPI()
    app.include_router(metrics_route.router)
    app.dependency_overrides[settings_of] = lambda: settings
    return app


async def get(app: FastAPI, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        return await client.get("/metrics", headers=headers)


async def test_metrics_are_open_without_a_token():
    response = await get(app_with(Settings(_env_file=None)))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "switchboard_webhooks_total" in response.text


async def test_a_token_must_be_presented_when_set():
    app = app_with(Settings(_env_file=None, metrics=MetricsSettings(token="s3cret")))
    assert (await get(app)).status_code == 401
    assert (await get(app, authorization="Bearer wrong")).status_code == 401
    assert (await get(app, authorization="Basic s3cret")).status_code == 401
    response = await get(app, authorization="Bearer s3cret")
    assert response.status_code == 200 and "switchboard_" in response.text


CHILD = """
import os
import sys
from server import metrics
print(os.getpid())
metrics.WEBHOOKS.labels(channel="meta", outcome="accepted").inc(int(sys.argv[1]))
metrics.OUTBOX_BACKLOG.set(int(sys.argv[1]))
metrics.breaker_listener("agent")("agent", sys.argv[2])
"""


def test_several_processes_give_one_merged_scrape(tmp_path, monkeypatch):
    env = {**os.environ, metrics.MULTIPROC_ENV: str(tmp_path), "PYTHONPATH": str(ROOT)}
    pids = [int(subprocess.run([sys.executable, "-c", CHILD, str(count), state], env=env,
                               check=True, cwd=ROOT, timeout=60, capture_output=True,
                               text=True).stdout)
            for count, state in ((2, "closed"), (3, "open"))]  # two processes, one after the other
    assert len(list(tmp_path.glob("*.db"))) >= 2  # each process wrote its own files
    scrape = metrics.exposition(str(tmp_path)).decode()
    assert 'switchboard_webhooks_total{channel="meta",outcome="accepted"} 5.0' in scrape
    assert "switchboard_outbox_backlog 3.0" in scrape  # the most recent count
    assert 'switchboard_breaker_state{model="agent"} 2.0' in scrape  # the worst process's
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))
    metrics.process_ended(pids[1])  # the supervisor buried the process with the open breaker
    scrape = metrics.exposition().decode()
    assert 'switchboard_breaker_state{model="agent"} 0.0' in scrape
    assert 'switchboard_webhooks_total{channel="meta",outcome="accepted"} 5.0' in scrape


def test_several_processes_share_one_metrics_directory_and_one_does_not(monkeypatch):
    monkeypatch.setenv(metrics.MULTIPROC_ENV, "")  # unset, and restored after the test
    metrics.share_between(1)
    assert not os.environ[metrics.MULTIPROC_ENV]
    metrics.share_between(3)
    shared = os.environ[metrics.MULTIPROC_ENV]
    assert Path(shared).is_dir() and not list(Path(shared).iterdir())
    metrics.share_between(3)  # a directory already set is kept
    assert os.environ[metrics.MULTIPROC_ENV] == shared


def test_workers_serve_their_scrape_on_the_configured_port(monkeypatch, unused_tcp_port):
    monkeypatch.setenv(metrics.MULTIPROC_ENV, "")
    metrics.serve_for_workers(None, "127.0.0.1")  # unset: nothing listens
    metrics.OPT_OUTS.inc()
    metrics.serve_for_workers(unused_tcp_port, "127.0.0.1")
    body = httpx.get(f"http://127.0.0.1:{unused_tcp_port}/metrics", timeout=5).text
    assert "switchboard_opt_outs_total" in body and "switchboard_turn_seconds" in body
