"""The FastAPI application: webhooks in, health, the agent console, the simulator; workers
in-process by default. What is mounted follows server/demo_mode.py, after the startup checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NoReturn

from fastapi import FastAPI, HTTPException, Request
from fastapi.staticfiles import StaticFiles

from graph.base.settings import Settings, get_settings
from server import request_guards
from server.composition import open_server
from server.console import dashboard as console_dashboard
from server.console import media as console_media
from server.console import routes as console
from server.demo_mode import channels
from server.logs import configure_logging
from server.media.store import browser_origins
from server.routes import health, metrics, simulator, webhooks, welcome
from server.security_headers import SecurityHeaders
from server.startup_checks import check_startup


async def meta_not_configured(request: Request) -> NoReturn:
    """404 for Meta webhooks while the Meta channel is unconfigured (its default secrets are
    public)."""
    raise HTTPException(404, "Meta channel not configured")


def create_app(settings: Settings | None = None, *, run_workers: bool | None = None,
               **server_options) -> FastAPI:
    """The app; its lifespan opens the server's parts (server/composition.py `open_server`).
    `server_options` (database_url, models) are for tests and embedding. Raises
    StartupRefused when the settings are unsafe to serve with."""
    settings = settings or get_settings()
    run_workers = settings.serve_runs_worker if run_workers is None else run_workers
    demo = check_startup(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_server(settings, **server_options) as parts:
            app.state.parts = parts  # routes get it through server/deps.py
            await console.startup(parts, demo=demo)
            if run_workers:
                parts.start_workers()
            yield

    docs = {"docs_url": "/docs", "redoc_url": "/redoc", "openapi_url": "/openapi.json"}
    app = FastAPI(title="Switchboard", lifespan=lifespan,  # the API map is for demos only
                  **(docs if demo.on else dict.fromkeys(docs)))
    app.state.demo_mode = demo
    request_guards.install(app, settings.max_body_bytes)  # malformed input: 4xx, before routers
    if not (demo.on or channels(settings).meta):
        # Outside demo mode the Meta secrets are still the published ones: answer before the
        # webhook route (routes match in order), so nobody can sign a webhook with them.
        app.add_route("/webhooks/meta", meta_not_configured, methods=["GET", "POST"],
                      include_in_schema=False)
    app.include_router(welcome.router)  # GET /: where to go next
    app.include_router(health.router)
    app.include_router(metrics.router)  # GET /metrics: Prometheus (METRICS__TOKEN)
    app.include_router(webhooks.router)
    app.include_router(console.router)
    app.include_router(console_media.router)
    app.include_router(console_dashboard.router)  # supervisors' service report
    if demo.on:
        simulator.mount(app, settings)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    # Added last: outermost, so every response gets them; media from an S3 bucket is allowed too.
    app.add_middleware(SecurityHeaders, media_origins=browser_origins(settings))
    return app


def serve_app() -> FastAPI:
    """The app as each process of `switchboard serve --processes N` builds it (uvicorn's
    factory): settings from the environment the parent prepared."""
    configure_logging()  # server/logs.py: not the CLI package, which a web process does not need
    return create_app()
