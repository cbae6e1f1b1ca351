"""`langgraph dev` (LangGraph Studio's local server) loads langgraph.json and serves the graph.

The server runs as `langgraph dev` would for a developer: in the repository, with hot reload
on, offline (the offline brain, no analytics, no version check). Its log goes to a temporary
folder outside the repository: the reloader watches the working directory and logs every file
change it sees, so a log written inside it would feed itself forever.

It still writes its own in-memory store to `.langgraph_api/` in the working directory (the path
is fixed in langgraph-runtime-inmem, and langgraph-cli drops `disable_persistence` from
langgraph.json). That folder is git-ignored and holds no `.py` files, so it triggers no reload.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
LANGGRAPH = Path(sys.executable).with_name("langgraph")
STARTUP_DEADLINE_S = 90.0
RUN_DEADLINE_S = 120.0
AMELIA = "447700900101"  # on file in the demo store


@dataclass
class DevServer:
    url: str
    log: Path
    startup_s: float

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.log, lines)


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return "(no log)"
    text = re.sub(r"\x1b\[[0-9;]*m", "", path.read_text(errors="replace"))
    return "\n".join(text.splitlines()[-lines:])


def server_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DATA_DIR=str(data_dir),
        # Offline and deterministic, whatever the developer's shell or .env says: the offline
        # brain answers (an empty model name means none) and Chroma runs embedded.
        ROUTER__MODEL="",
        AGENT__MODEL="",
        CHROMA_URL="",
        LANGGRAPH_CLI_NO_ANALYTICS="1",  # langgraph-cli's usage ping
        LANGGRAPH_NO_VERSION_CHECK="true",  # langgraph-api's PyPI version check
        LANGSMITH_TRACING="false",
        LANGCHAIN_TRACING_V2="false",
        PYTHONUNBUFFERED="1",
    )
    return env


def stop(process: subprocess.Popen) -> None:
    """Stop the server and its reloader's worker: the whole process group it leads."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def dev_server(database_url: str, tmp_path_factory) -> Iterator[DevServer]:
    workdir = tmp_path_factory.mktemp("studio")
    log = workdir / "langgraph-dev.log"
    assert REPO not in log.resolve().parents, "the log must live outside the watched folder"
    assert LANGGRAPH.exists(), f"{LANGGRAPH} missing: install the dev extra (langgraph-cli[inmem])"
    port = free_port()
    command = [str(LANGGRAPH), "dev", "--no-browser", "--port", str(port), "--host", "127.0.0.1"]

    with log.open("wb") as out:
        started = time.monotonic()
        process = subprocess.Popen(
            command, cwd=REPO, env=server_env(database_url, workdir / "data"),
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown reaches every child
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = started + STARTUP_DEADLINE_S
        with httpx.Client(timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    pytest.fail(f"langgraph dev exited with {process.returncode}:\n{tail(log)}")
                # langgraph dev quietly moves to another port if ours was taken meanwhile.
                if found := re.search(r"API: \S*?(http://127\.0\.0\.1:\d+)", tail(log, 200)):
                    url = found.group(1)
                try:
                    if client.get(f"{url}/ok").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"langgraph dev not up after {STARTUP_DEADLINE_S:.0f} s:\n{tail(log)}")
                time.sleep(0.25)
        startup_s = time.monotonic() - started
        print(f"\nlanggraph dev answered /ok after {startup_s:.1f} s ({url}, log: {log})")
        yield DevServer(url=url, log=log, startup_s=startup_s)
    finally:
        stop(process)


def test_langgraph_dev_serves_the_graph(dev_server: DevServer, record_property) -> None:
    record_property("langgraph_dev_startup_s", round(dev_server.startup_s, 2))
    with httpx.Client(base_url=dev_server.url, timeout=RUN_DEADLINE_S) as client:
        def call(method: str, path: str, **kwargs) -> dict:
            response = client.request(method, path, **kwargs)
            assert response.status_code == 200, (
                f"{method} {path}: {response.status_code} {response.text}\n{dev_server.log_tail()}")
            return response.json()

        assert call("GET", "/ok")["ok"] is True
        assistants = call("POST", "/assistants/search", json={"graph_id": "switchboard"})
        assert assistants, f"no assistant for the graph:\n{dev_server.log_tail()}"

        thread_id = call("POST", "/threads", json={})["thread_id"]
        try:
            run = call("POST", f"/threads/{thread_id}/runs", json={
                "assistant_id": "switchboard",
                "input": {"messages": [{"role": "human", "content": "how long do refunds take?"}]},
                "context": {"phone": AMELIA},  # the graph's context_schema (graph.context.Context)
            })
            # Join blocks until the run ends and returns the thread's final values.
            values = call("GET", f"/threads/{thread_id}/runs/{run['run_id']}/join")
            finished = call("GET", f"/threads/{thread_id}/runs/{run['run_id']}")
            assert finished["status"] == "success", f"{finished}\n{values}\n{dev_server.log_tail()}"

            outbound = values["outbound"]
            assert len(outbound) == 1, outbound
            assert "refund" in outbound[0].lower() and "Sources:" in outbound[0], outbound[0]

            state = call("GET", f"/threads/{thread_id}/state")["values"]
            assert state["outbound"] == outbound
            humans = [m for m in state["messages"] if m["type"] == "human"]
            # The input guardrail redacted the message in place (same id), not alongside it.
            assert len(humans) == 1, humans
            assert humans[0]["additional_kwargs"].get("guarded") is True, humans[0]
            assert humans[0]["content"] == "how long do refunds take?"
            assert state["messages"][-1]["type"] == "ai"
            assert state["messages"][-1]["content"] == outbound[0]
        finally:
            # The server saves its threads in .langgraph_api/ in the repository, beside the
            # developer's own Studio threads: leave nothing of this test behind there.
            client.delete(f"/threads/{thread_id}")
