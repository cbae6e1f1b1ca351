"""The `switchboard` CLI as a newcomer meets it: a real process on real services."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "server.cli"]
ROOT = Path(__file__).resolve().parents[3]


def _run(args, database_url, data_dir, stdin=""):
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(data_dir),
           "COLUMNS": "200", "TERM": "dumb"}
    return subprocess.run(CLI + args, input=stdin, capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=180)


def test_seed_reports_counts(database_url, data_dir):
    result = _run(["seed"], database_url, data_dir)
    assert result.returncode == 0, result.stderr
    assert "5 customers, 10 orders" in result.stdout


def test_chat_answers_with_sources_and_remembers_across_runs(database_url, data_dir, phone):
    first = _run(["chat", "--phone", phone], database_url, data_dir,
                 "where is my order?\nhow long do refunds take?\n/quit\n")
    assert first.returncode == 0, first.stderr
    assert "order number" in first.stdout  # asked to verify
    assert "Sources:" in first.stdout and "help.harborandpine.example/refunds" in first.stdout
    # A new process continues the same conversation: the pending verification is remembered.
    second = _run(["chat", "--phone", phone], database_url, data_dir, "HP-10007 41JS\n/quit\n")
    assert "Thanks Liam" in second.stdout and "HP-10007" in second.stdout


def test_chat_plays_the_human_during_a_handoff(database_url, data_dir, phone):
    result = _run(["chat", "--phone", phone], database_url, data_dir,
                  "human please\nhello?\n/agent Hi, Sam here\n/return Customer is fine\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "I've asked a colleague" in result.stdout
    assert "paused for a human" in result.stdout
    assert "returned to the bot" in result.stdout


@pytest.mark.parametrize("command", [["seed"], ["chat"], ["agents", "unlock", "sam"]])
def test_an_unreachable_database_is_one_line_for_every_command(command, tmp_path):
    """Not only serve and worker: any command that meets a dead database says so in one line."""
    result = _run(command, "postgresql://switchboard:hunter2@127.0.0.1:9/nowhere", tmp_path, "/quit\n")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("cannot start: PostgreSQL at 127.0.0.1:9")
    assert "hunter2" not in result.stderr
