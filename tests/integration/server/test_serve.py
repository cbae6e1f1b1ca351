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
from tests.integration.leftovers import (
    embedded_data_dir,  # noqa: F401 - a fixture
    processes_using,
    wait_until_none_left,
)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "server.cli"]


@pytest.fixture(params=[1, 2], ids=["one-process", "two-processes"])
def served(tmp_path, request, embedded_data_dir):  # noqa: F811
    """`switchboard serve` with no services configured: embedded Postgres, Redis and Chroma;
    in one process, and in two (`--processes 2`) sharing them."""
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "CHROMA_URL")}
    env.update(DATA_DIR=str(embedded_data_dir), PORT=str(port), DEBOUNCE_S="0.5")
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
    stop_embedded_postgres(embedded_data_dir)


def stop_embedded_postgres(data_dir: Path) -> None:
    """`serve` stops its embedded Postgres when it stops; should it fail to, the test run must
    still not leave one behind (test_sigterm_stops_what_serve_started catches the failure)."""
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


# --- Configuration mistakes are one line, fast; processes clean up after themselves -----------

def _env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "CHROMA_URL", "PORT", "HOST")
           and not key.startswith(("ROUTER__", "AGENT__", "META__", "TWILIO__"))}
    return env | {"DATA_DIR": str(data_dir), "PORT": str(free_port()), **settings}


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers (a black-holed host)."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.mark.parametrize("command, setting, value, refusal", [
    ("serve", "DATABASE_URL", "postgresql://shop:pw-1234@127.0.0.1:{closed}/support",
     "PostgreSQL at 127.0.0.1:{closed}/support: connection refused"),
    ("serve", "DATABASE_URL", "postgresql://shop:pw-1234@127.0.0.1:{silent}/support",
     "PostgreSQL at 127.0.0.1:{silent}/support: no answer within 3 s"),
    ("serve", "DATABASE_URL", "pw-1234 is not a URL", "DATABASE_URL is not a PostgreSQL URL"),
    ("worker", "DATABASE_URL", "postgresql://shop:pw-1234@nosuchhost.invalid/support",
     "PostgreSQL at nosuchhost.invalid:5432/support: unknown host"),
    ("serve", "REDIS_URL", "redis://:pw-1234@127.0.0.1:{closed}/0",
     "Redis at 127.0.0.1:{closed}: connection refused"),
    ("serve", "REDIS_URL", "127.0.0.1:6379", "REDIS_URL is not a redis://"),
    ("serve", "CHROMA_URL", "http://127.0.0.1:{closed}",
     "Chroma at 127.0.0.1:{closed}: unreachable: connection refused"),
], ids=["postgres-refused", "postgres-silent", "postgres-malformed", "postgres-unknown-host-worker",
        "redis-refused", "redis-malformed", "chroma-refused"])
def test_an_unreachable_store_is_one_line_within_seconds(tmp_path, embedded_data_dir, database_url,  # noqa: F811
                                                          silent_port, command, setting, value, refusal):
    closed = free_port()
    value, refusal = (text.format(closed=closed, silent=silent_port) for text in (value, refusal))
    env = _env(embedded_data_dir, **{"DATABASE_URL": database_url, setting: value})
    started = time.monotonic()
    result = subprocess.run([*CLI, command], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=120)
    elapsed, out = time.monotonic() - started, result.stdout + result.stderr
    assert result.returncode == 2, out
    refusals = [line for line in result.stderr.splitlines() if line.startswith("cannot start:")]
    assert len(refusals) == 1 and refusal in refusals[0], out
    assert "Traceback" not in out and "pw-1234" not in out
    assert elapsed < 10, f"{elapsed:.1f} s"  # was 36 s and a PoolTimeout traceback
    assert not wait_until_none_left(embedded_data_dir, within_s=5)  # nor left anything running


@pytest.fixture(scope="module")
def providers():
    from tests.integration.provider_fakes import Providers, start

    fake = Providers()
    server = start(fake)
    yield fake
    server.shutdown()


@pytest.mark.parametrize("processes", [1, 2], ids=["one-process", "two-processes"])
def test_sigterm_stops_what_serve_started(tmp_path, embedded_data_dir, providers, processes):  # noqa: F811
    """A mistyped model key is one warning line at start; SIGTERM to `serve` (the main process
    only, as a container runtime sends it) leaves no embedded PostgreSQL or Redis behind."""
    env = _env(embedded_data_dir, DEBOUNCE_S="0.5", ROUTER__MODEL="gpt-router",
               ROUTER__BASE_URL=f"{providers.url}/v1", ROUTER__API_KEY="sk-mistyped-key")
    url, data = f"http://127.0.0.1:{env['PORT']}", embedded_data_dir
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([*CLI, "serve", "--processes", str(processes)], cwd=tmp_path,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not _ready(url):
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.3)
        while "model check:" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        text = log_path.read_text()
        assert ("model check: router model gpt-router at 127.0.0.1:"
                f"{providers.port}: unauthorised (HTTP 401): check ROUTER__API_KEY") in text, text
        for banner in ("brain: models (below)", "channels: simulator", "models: router gpt-router",
                       "stores: postgres embedded"):
            assert banner in text, text
        assert "sk-mistyped-key" not in text
        assert httpx.get(f"{url}/", timeout=5).status_code == 200
        running = processes_using(data)
        assert any("postgres" in p for p in running) and any("redis" in p for p in running), running
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
    assert code == 0, log_path.read_text()[-3000:]
    assert not wait_until_none_left(data), log_path.read_text()[-3000:]


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_simulate_says_plainly_when_no_server_runs(tmp_path):
    env = _env(tmp_path / "data")
    result = subprocess.run([*CLI, "simulate"], input="hello\n", capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    # PORT is honoured: it looked where `serve` would listen with the same settings.
    assert result.stderr.strip() == (f"no Switchboard server at http://127.0.0.1:{env['PORT']}: it"
                                     " is not running. Start one with `switchboard serve` (or pass --url)")
    assert "Traceback" not in result.stdout


def test_stop_stops_what_a_killed_serve_left(tmp_path, embedded_data_dir):  # noqa: F811
    """kill -9 gives `serve` no chance to clean up; `switchboard stop` does it, and refuses
    while a live process still uses the services."""
    env = _env(embedded_data_dir)
    url = f"http://127.0.0.1:{env['PORT']}"
    with (tmp_path / "serve.log").open("w") as log:
        process = subprocess.Popen([*CLI, "serve", "--no-worker"], cwd=tmp_path, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not _ready(url):
        assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
        time.sleep(0.3)
    stop = [*CLI, "stop"]
    refused = subprocess.run(stop, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert refused.returncode == 1 and f"process {process.pid} still uses" in refused.stderr
    process.kill()
    process.wait(10)
    left = processes_using(embedded_data_dir)
    assert any("postgres" in p for p in left) and any("redis" in p for p in left), left
    stopped = subprocess.run(stop, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert stopped.returncode == 0 and "stopped PostgreSQL" in stopped.stdout, stopped.stderr
    assert not wait_until_none_left(embedded_data_dir)


@pytest.mark.parametrize("processes", [1, 2], ids=["one-process", "two-processes"])
def test_sigterm_stops_what_worker_started(tmp_path, embedded_data_dir, processes):  # noqa: F811
    """`switchboard worker` (and its supervisor with --processes) leaves nothing behind either."""
    env, log_path = _env(embedded_data_dir), tmp_path / "worker.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([*CLI, "worker", "--processes", str(processes)], cwd=tmp_path,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while log_path.read_text().count("worker running") < processes:
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.3)
        running = processes_using(embedded_data_dir)
        assert any("postgres" in p for p in running) and any("redis" in p for p in running), running
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
    assert code == 0, log_path.read_text()[-3000:]
    assert not wait_until_none_left(embedded_data_dir), log_path.read_text()[-3000:]
