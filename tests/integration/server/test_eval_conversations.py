"""`switchboard eval conversations` on real PostgreSQL and Chroma with the offline brain: the
runner checks turns as they really ran, known-good scenarios pass, a wrong expectation fails,
and the command's report and exit codes are what a script reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.evals.golden import GoldenConversation, load_conversations
from server.evals.runner import GoldenRunner, Report

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
KNOWN_GOOD = ["verify-by-postcode", "status-dispatched", "multi-order-which-one",
              "voice-note-order-status", "human-request-plain", "late-message-to-a-human",
              "returns-window"]
WRONG = """conversations:
  - name: wrong-on-purpose
    kind: order_status
    phone: "447700900101"
    turns:
      - say: "where is HP-10002?"
        intent: billing
        tools: [{name: order_status, args: {order_id: HP-10001}}]
        must_contain: ["cancelled"]
        must_not_contain: ["HP-10002"]
        handoff: true
"""


def _golden(*names: str) -> list[GoldenConversation]:
    by_name = {c.name: c for c in load_conversations()}
    return [by_name[name] for name in names]


async def test_known_good_scenarios_pass_with_latency_and_cost_per_turn(open_app):
    app = await open_app()
    runner = GoldenRunner(app.conversations,
                          stale_after_s=app.services.settings.stale_message_age_s)
    report = Report(await runner.run(_golden(*KNOWN_GOOD)), brain="offline brain")
    failed = {s.name: [(c.name, c.detail) for c in s.checks if not c.passed] or s.error
              for s in report.scenarios if not s.passed}
    assert failed == {}
    verify = report.scenarios[0]
    assert [t.tool_calls for t in verify.turns] == [
        [], [{"name": "order_status", "args": {"order_id": "HP-10007"}}]]
    assert all(t.latency_s > 0 and t.cost_usd == 0.0 for s in report.scenarios for t in s.turns)
    late = report.scenarios[KNOWN_GOOD.index("late-message-to-a-human")].turns[0]
    assert late.handoff_reason == "late_message"  # the worker's late path, not the graph
    data = report.as_json()
    assert data["totals"]["scenarios_passed"] == len(KNOWN_GOOD)
    assert data["totals"]["check_pass_rate"] == 1.0
    assert set(data["scenarios"][0]["turns"][0]) >= {"said", "replies", "checks", "latency_s",
                                                      "cost_usd", "intent", "tool_calls", "passed"}


async def test_a_wrong_expectation_fails_every_check_it_states(open_app, tmp_path):
    (tmp_path / "wrong.yaml").write_text(WRONG)
    app = await open_app()
    runner = GoldenRunner(app.conversations,
                          stale_after_s=app.services.settings.stale_message_age_s)
    [scenario] = await runner.run(load_conversations(tmp_path))
    assert not scenario.passed and scenario.error is None
    assert {c.name: c.passed for c in scenario.checks} == {
        "intent": False, "tools": False, "facts": False, "forbidden": False, "handoff": False}


def _cli(args, database_url, data_dir, extra_env=None):
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(data_dir),
           "COLUMNS": "200", "TERM": "dumb", **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "server.cli", "eval", "conversations", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_the_command_reports_json_and_fails_below_min_pass(database_url, data_dir, tmp_path):
    good = next(p for p in (ROOT / "server/evals/conversations").glob("*.yaml")
                if "status-dispatched" in p.read_text())
    (tmp_path / "good.yaml").write_text(good.read_text())
    (tmp_path / "wrong.yaml").write_text(WRONG)
    args = ["--dir", str(tmp_path), "--only", "status-dispatched", "--only", "wrong-on-purpose"]
    result = _cli([*args, "--json", "--min-pass", "0.9"], database_url, data_dir)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["brain"] == "offline brain"
    assert [(s["name"], s["passed"]) for s in report["scenarios"]] == [
        ("status-dispatched", True), ("wrong-on-purpose", False)]
    table = _cli([*args, "--misses", "--min-pass", "0.1"], database_url, data_dir)
    assert table.returncode == 0, table.stderr
    assert "wrong-on-purpose turn 1" in table.stdout and "expected billing" in table.stdout


def test_the_command_refuses_a_malformed_file(database_url, data_dir, tmp_path):
    (tmp_path / "bad.yaml").write_text("conversations:\n  - name: x\n    kind: weather\n")
    result = _cli(["--dir", str(tmp_path)], database_url, data_dir)
    assert result.returncode == 2
    assert "bad.yaml: conversations.0.kind" in result.stdout


def test_a_configured_model_is_measured_with_its_latency_and_cost(database_url, data_dir):
    """Any OpenAI-compatible endpoint: here a real HTTP server that answers as the offline brain
    would, 0.2 s a call, with token usage that the prices turn into cost."""
    from tests.model_stub import ModelStub

    with ModelStub(delay_s=0.2) as stub:
        env = {"AGENT__MODEL": "stub-large", "AGENT__BASE_URL": stub.url, "AGENT__API_KEY": "x",
               "AGENT__USD_PER_MILLION_IN": "1000", "AGENT__USD_PER_MILLION_OUT": "1000"}
        result = _cli(["--only", "returns-window", "--json"], database_url, data_dir, env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["brain"] == "agent stub-large, router offline"
    [turn] = report["scenarios"][0]["turns"]
    assert turn["latency_s"] >= 0.2 and turn["cost_usd"] > 0
    assert report["totals"]["cost_usd"] == pytest.approx(turn["cost_usd"], abs=1e-6)
