"""What a command left running from its data directory, read straight from /proc (not through
the code under test): an embedded PostgreSQL names its data directory on its command line and
works in it, and an embedded Redis works in DATA_DIR/redis."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest


def processes_using(data_dir: Path) -> list[str]:
    target = str(data_dir.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if "\nState:\tZ" in (entry / "status").read_text():
                continue  # exited, not yet reaped: runs nothing
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if target in cmdline or cwd == target or cwd.startswith(target + "/"):
            found.append(f"{entry.name} (in {cwd}): {cmdline.strip()[:160]}")
    return found


def wait_until_none_left(data_dir: Path, within_s: float = 15) -> list[str]:
    """The processes still using data_dir after waiting up to within_s for them to end."""
    deadline = time.monotonic() + within_s
    while (left := processes_using(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.fixture
def embedded_data_dir():
    """A DATA_DIR outside pytest's temporary root: pytest makes that root private (0700) each
    time a session starts, and an embedded PostgreSQL, run as its own user when tests run as
    root, could then no longer reach its files mid-test."""
    root = Path(tempfile.mkdtemp(prefix="switchboard-test-"))
    yield root / "data"
    shutil.rmtree(root, ignore_errors=True)
