"""`switchboard report` as a real process on the real database: JSON, CSV, table, bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.server.reporting.scenario import Scenario

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[4]


def run(database_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(data_dir),
           "COLUMNS": "200", "TERM": "dumb"}
    return subprocess.run([sys.executable, "-m", "server.cli", "report", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
async def scenario(pool) -> Scenario:
    scenario = Scenario(pool)
    await scenario.seed()
    return scenario


def window(scenario: Scenario) -> list[str]:
    return ["--since", scenario.since.date().isoformat(), "--until", scenario.until.date().isoformat()]


def test_json_is_the_whole_report(scenario, database_url, data_dir):
    result = run(database_url, data_dir, *window(scenario), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == scenario.expected()


def test_csv_is_metric_value_rows(scenario, database_url, data_dir):
    result = run(database_url, data_dir, *window(scenario), "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["metric", "value"]
    values = dict(rows[1:])
    assert values["conversations"] == "6"
    assert values["first_response_seconds.human.p95"] == "1698.5"
    assert values["containment_rate"] == "0.3333"
    assert values["handoffs_by_reason.customer_request"] == "2"
    assert values["sla.missed_by_cause.no_agent_online"] == "1"
    assert values["csat.average"] == "3.0"
    assert values["cost_usd.per_conversation"] == "0.01"
    assert values[f"daily.{scenario.day2.date().isoformat()}.handoffs"] == "2"


def test_the_table_shows_the_figures_and_the_days(scenario, database_url, data_dir):
    result = run(database_url, data_dir, *window(scenario))
    assert result.returncode == 0, result.stderr
    rows = [[cell.strip() for cell in re.split(r"[│|┃]", line)[1:-1]]
            for line in result.stdout.splitlines()]
    assert ["conversations", "6"] in rows and ["containment_rate", "0.3333"] in rows
    assert ["sla.missed_by_target.first_response", "2"] in rows
    assert [scenario.day1.date().isoformat(), "3", "0.6667", "5", "1", "4", "0.03"] in rows
    assert "Per day (UTC)" in result.stdout


@pytest.mark.parametrize("args", [["--since", "7x"], ["--since", "2026-13-01"],
                                  ["--since", "1d", "--until", "2d"], ["--since", "400d"]])
def test_a_bad_window_is_one_line_and_exit_2(args, database_url, data_dir):
    result = run(database_url, data_dir, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("bad window: "), result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
