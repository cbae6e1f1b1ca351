"""The README's run command path: `switchboard serve` on embedded everything, and a customer
chatting through `switchboard simulate`, as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "server.cli"]


@pytest.fixture(params=[1, 2], ids=["one-process", "two-processes"])
def served(tmp_path, request):
    """`switchboard serve` with no services configured: embedded Postgres, Redis and Chroma;
    in one process, and in two (`--processes 2`) sharing them."""
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "CHROMA_URL")}
    env.update(DATA_DIR=str(tmp_path / "data"), PORT=str(port), DEBOUNCE_S="0.5")
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([*CLI, "serve", "--processes", str(request.param)], cwd=tmp_path,
                               env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        time.sleep(0.3)
    else:
        pytest.fail("server never became ready:\n" + (tmp_path / "serve.log").read_text()[-3000:])
    yield url, env
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(30)
    log.close()
    stop_embedded_postgres(tmp_path / "data")


def stop_embedded_postgres(data_dir: Path) -> None:
    """`serve` leaves its embedded Postgres running, for a fast restart; a test must not."""
    pid_file = data_dir / "postgres" / "postmaster.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)  # Postgres' fast shutdown


def test_newcomer_chats_through_the_simulator(served):
    url, env = served
    assert "Harbor &amp; Pine" in httpx.get(f"{url}/simulator").text
    result = subprocess.run([*CLI, "simulate", "--url", url, "--phone", "447700900101"],
                            input="where is HP-10002?\nhow long do refunds take?\n", text=True,
                            capture_output=True, cwd=ROOT, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "HP-10002" in result.stdout and "track.harborandpine.example" in result.stdout
    assert "5-7 working days" in result.stdout
    # The fake Cloud API reported delivery back through the signed status webhook.
    messages = httpx.get(f"{url}/simulator/api/messages", params={"phone": "447700900101"}).json()
    statuses = [m["status"] for m in messages["messages"] if m["from"] == "business"]
    assert statuses and set(statuses) <= {"sent", "delivered", "read"} and "read" in statuses
