"""Shared fixtures: a real PostgreSQL (TEST_DATABASE_URL or embedded), a real Chroma with the
sample help center, and Switchboard opened on them with scripted or offline models."""

from __future__ import annotations

import os
import socket
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.base.settings import Settings

warnings.filterwarnings("ignore", category=DeprecationWarning)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("switchboard-data")


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> Iterator[str]:
    """A database of this session's own on the Postgres at TEST_DATABASE_URL (made empty, dropped
    at the end, so what an earlier or concurrent run left there cannot matter), else a real
    embedded Postgres for this session (stopped when the session's process exits)."""
    if server_url := os.environ.get("TEST_DATABASE_URL"):
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        name = f"{conninfo_to_dict(server_url).get('dbname') or 'test'}_s{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield make_conninfo(server_url, dbname=name)
        finally:
            with psycopg.connect(server_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    from server.database import embedded_database_url

    yield embedded_database_url(data_dir, keep_running=False)


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, _env_file=None)


@pytest.fixture
def phone() -> str:
    """A WhatsApp number that is not on file, new for every test."""
    return "4470" + uuid.uuid4().hex[:8].translate(str.maketrans("abcdef", "123456"))


@pytest.fixture
async def open_app(settings: Settings, database_url: str):
    """Factory: Switchboard on the real services, with optional scripted models and settings.
    Every conversation a test touches through it starts empty."""
    from contextlib import AsyncExitStack

    from server.composition import open_core

    async with AsyncExitStack() as stack:
        async def make(router_model=None, agent_model=None, forget=(), **overrides):
            app = await stack.enter_async_context(open_core(
                settings.model_copy(update=overrides), database_url=database_url,
                router_model=router_model, agent_model=agent_model))
            for number in forget:
                await app.conversations.forget(number)
            return app
        yield make


@pytest.fixture(scope="session")
def failing_openai():
    """A real HTTP server that fails every OpenAI-style call with a 500, as a provider outage."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Outage(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = json.dumps({"error": {"message": "upstream exploded", "type": "server_error"}})
            self.send_response(500)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Outage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


@pytest.fixture
def spans():
    """Switchboard's spans (server/tracing.py), kept in an in-memory exporter for the test."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from server import tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    previous = tracing.install(provider)
    yield exporter
    tracing.install(previous)
    provider.shutdown()
