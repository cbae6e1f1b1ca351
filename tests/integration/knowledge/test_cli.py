"""`switchboard ingest` and `switchboard eval retrieval` as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "knowledge"


def _run(args, data_dir, **env):
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "DATA_DIR": str(data_dir), "COLUMNS": "200",
                               "TERM": "dumb", **env})


def test_ingest_summarises_and_is_idempotent(tmp_path):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"not a pdf")
    first = _run(["ingest", str(FIXTURES), str(bad)], tmp_path)
    assert first.returncode == 1, first.stderr  # the good files are in; the exit code says one failed
    assert "Ingested 6 files, 11 chunks (11 embedded, 0 unchanged, 0 deleted); 0 skipped, 1 errors" \
        in first.stdout
    assert f"error {bad}: not a readable PDF" in first.stdout
    again = _run(["ingest", str(FIXTURES)], tmp_path)
    assert "(0 embedded, 11 unchanged, 0 deleted)" in again.stdout


def test_ingest_refuses_a_collection_of_another_model(tmp_path):
    assert _run(["ingest", str(FIXTURES)], tmp_path).returncode == 0
    other = _run(["ingest", str(FIXTURES)], tmp_path, EMBEDDINGS__MODEL="text-embedding-3-small")
    assert other.returncode == 2 and "Re-ingest" in other.stdout


def test_eval_retrieval_prints_each_option(tmp_path):
    result = _run(["eval", "retrieval"], tmp_path)
    assert result.returncode == 0, result.stderr
    for option in ("offline dense", "offline lexical", "offline hybrid"):
        assert option in result.stdout
    assert "recall@5" in result.stdout and "MRR" in result.stdout
