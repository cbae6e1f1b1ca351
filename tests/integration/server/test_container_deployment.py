"""What the containers run, run here as real processes: the image's HEALTHCHECK against a real
`switchboard serve` started with the example deployment environment, compose's Chroma probe
against a real `chroma run` server, and the knowledge base kept in that server (CHROMA_URL).
No container engine runs on these machines; the commands are the files' own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import chromadb
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graph.base.settings import Settings
from knowledge.base import open_collection
from tests.conftest import free_port
from tests.deployment_files import (
    ROOT,
    compose,
    env_example,
    healthcheck_command,
    setting_names,
    unescape_compose,
)
from tests.http_stub import HttpStub

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "server.cli"]
FIXTURES = ROOT / "tests" / "fixtures" / "knowledge"


@pytest.fixture
def chroma_url(tmp_path):
    """A real Chroma server from the installed chromadb package, on a free port."""
    port = free_port()
    binary = Path(sys.executable).parent / "chroma"
    process = subprocess.Popen([str(binary), "run", "--path", str(tmp_path / "chroma-server"),
                                "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("chroma run did not start")
    yield url
    process.terminate()
    process.wait(15)


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any Switchboard setting, plus `settings`."""
    ours = setting_names()
    return {key: value for key, value in os.environ.items()
            if key not in ours and not key.startswith(tuple(f"{n}__" for n in ours))} | settings


def probe(command: list[str], port: int) -> int:
    command = [part.replace("/8000", f"/{port}") for part in command]
    return subprocess.run(command, capture_output=True, timeout=10).returncode


def test_the_compose_chroma_probe_passes_only_against_a_live_server(chroma_url):
    command = [unescape_compose(part) for part in compose()["services"]["chroma"]["healthcheck"]["test"][1:]]
    assert probe(command, int(chroma_url.rsplit(":", 1)[1])) == 0
    assert probe(command, free_port()) != 0


def test_the_knowledge_base_lives_in_the_chroma_server(tmp_path, chroma_url):
    data_dir = tmp_path / "data"
    ingest = subprocess.run([*CLI, "ingest", str(FIXTURES)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300,
                            env=clean_environment(CHROMA_URL=chroma_url, DATA_DIR=str(data_dir),
                                                  COLUMNS="200", TERM="dumb"))
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    assert "Ingested 6 files, 11 chunks" in ingest.stdout
    assert not (data_dir / "chroma").exists()  # nothing embedded beside the server
    port = int(chroma_url.rsplit(":", 1)[1])
    server_side = chromadb.HttpClient(host="127.0.0.1", port=port)
    assert server_side.get_collection("help_center").count() == 11
    # The URL reaches Chroma whole (a trailing slash or a proxy's path prefix included).
    kb = open_collection(Settings(chroma_url=chroma_url + "/", data_dir=data_dir, _env_file=None))
    assert kb.search_sync("how should I clean an oak table", 1)[0]["id"] == "care-guide#oak-furniture"


class PathPrefixProxy(HttpStub):
    """A reverse proxy that serves Chroma under /chroma, as one in front of a shared server may."""

    base_path = "/chroma"

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target, self.paths = target, []
        self.app = Starlette(routes=[Route("/chroma/{rest:path}", self.forward,
                                           methods=["GET", "POST", "PUT", "DELETE", "PATCH"])])

    async def forward(self, request: Request) -> Response:
        self.paths.append(request.url.path)
        async with httpx.AsyncClient() as http:
            answer = await http.request(request.method, f"{self.target}/{request.path_params['rest']}",
                                        params=request.query_params, content=await request.body(),
                                        headers={"content-type": request.headers.get("content-type", "")})
        return Response(answer.content, answer.status_code,
                        media_type=answer.headers.get("content-type"))


def test_a_chroma_url_with_a_path_is_used_as_written(tmp_path, chroma_url):
    with PathPrefixProxy(chroma_url) as proxy:
        kb = open_collection(Settings(chroma_url=proxy.url, data_dir=tmp_path, _env_file=None))
        assert kb.collection.count() == 0
    assert proxy.paths and all(path.startswith("/chroma/api/v2/") for path in proxy.paths)
    port = int(chroma_url.rsplit(":", 1)[1])
    assert "help_center" in {c.name for c in chromadb.HttpClient(host="127.0.0.1", port=port).list_collections()}


def test_the_image_healthcheck_passes_against_the_api_as_compose_starts_it(
        tmp_path, chroma_url, database_url, redis_server):
    """`serve --no-worker` on 0.0.0.0 with deploy.env.example's settings (the channel's secrets,
    an https PUBLIC_URL, DEMO_MODE=off) and real stores: startup_checks let it start, /readyz
    sees the Chroma server, and the Dockerfile's HEALTHCHECK command exits 0, then 1 once the
    server is gone."""
    port = free_port()
    example = {name: value for name, (value, active) in env_example().items() if active}
    wiring = compose()["services"]["api"]["environment"]
    env = clean_environment(**{k: v for k, v in example.items() if k in setting_names()},
                            DEMO_MODE=wiring["DEMO_MODE"], DATABASE_URL=database_url,
                            REDIS_URL=redis_server.url, CHROMA_URL=chroma_url,
                            DATA_DIR=str(tmp_path / "data"), HOST="0.0.0.0", PORT=str(port))
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([*CLI, "serve", "--no-worker"], cwd=tmp_path, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    command = [sys.executable if part == "python" else part for part in healthcheck_command()]
    health_env = {"PATH": os.environ["PATH"], "PORT": str(port)}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=3)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(0.3)
        else:
            pytest.fail("never ready:\n" + (tmp_path / "serve.log").read_text()[-3000:])
        assert ready.json()["chroma"] == "ok"
        assert subprocess.run(command, env=health_env, timeout=10).returncode == 0
        startup = (tmp_path / "serve.log").read_text()
        assert "demo mode: off" in startup
        for secret in ("META__APP_SECRET", "META__ACCESS_TOKEN"):
            assert example[secret] not in startup
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        log.close()
    assert subprocess.run(command, env=health_env, capture_output=True, timeout=10).returncode != 0
