"""The FastAPI application: webhooks in, health, the agent console, the simulator; workers
in-process by default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from server.console import routes as console
from server.routes import health, simulator, webhooks
from server.runtime import open_runtime
from server.settings import Settings, get_settings


def create_app(settings: Settings | None = None, *, run_workers: bool | None = None,
               simulator_enabled: bool | None = None, **runtime_options) -> FastAPI:
    """The app; `runtime_options` (database_url, models) are for tests and embedding."""
    settings = settings or get_settings()
    run_workers = settings.serve_runs_worker if run_workers is None else run_workers
    with_simulator = settings.meta.graph_url is None if simulator_enabled is None else simulator_enabled

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings, **runtime_options) as runtime:
            app.state.runtime = runtime
            await console.startup(runtime, demo=with_simulator)
            if run_workers:
                runtime.start_workers()
            yield

    app = FastAPI(title="Switchboard", lifespan=lifespan, docs_url="/docs")
    app.include_router(health.router)
    app.include_router(webhooks.router)
    app.include_router(console.router)
    if with_simulator:
        simulator.mount(app, settings)
    return app


def serve_app() -> FastAPI:
    """The app as each process of `switchboard serve --processes N` builds it (uvicorn's
    factory): settings from the environment the parent prepared."""
    from server.serve_cli import configure_logging

    configure_logging()
    return create_app()
