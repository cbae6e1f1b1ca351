"""`switchboard serve` and `switchboard worker` (`simulate` is in server/cli/simulate.py)."""

from __future__ import annotations

import asyncio
import signal

import typer
from rich.console import Console

from server.logs import configure_logging

console = Console()


PROCESSES_HELP = ("Processes to run on this machine; 0 means one per CPU core. They share"
                  " Postgres and Redis (embedded ones are started once, by this command).")


def _process_count(requested: int) -> int:
    import os

    return requested if requested > 0 else (os.cpu_count() or 1)


def load_settings():
    """The settings; one that does not parse is one line and exit code 2 (never its value)."""
    from pydantic import ValidationError

    from graph.base.settings import get_settings

    try:
        return get_settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = "__".join(str(part) for part in first["loc"]).upper()
        typer.echo(f"refusing to start: {name}: {first['msg']}", err=True)
        raise typer.Exit(2) from None


def checked(settings, *, serves_http: bool = True):
    """The startup checks (server/startup_checks.py), then the stores must answer: a refusal is
    one line on stderr and exit code 2, no traceback. Else the effective configuration is
    logged, the model endpoints are checked beside the start, and the demo mode returned.
    Embedded stores are started here: call it inside `stopping_embedded_services()`."""
    from server.doctor import warn_about_models
    from server.startup_checks import StartupRefused, check_services, check_startup, report

    try:
        demo = check_startup(settings, serves_http=serves_http)
        check_services(settings)
    except StartupRefused as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    report(settings, demo)
    warn_about_models(settings)
    return demo


def _share_services(settings) -> dict[str, str]:
    """Start embedded Postgres and Redis here, if they are used, and return the environment
    that points child processes at them (and at whatever is configured instead)."""
    from server.database import database_url
    from server.redis_client import redis_url

    return {"DATABASE_URL": database_url(settings), "REDIS_URL": redis_url(settings)}


def serve(host: str = typer.Option(None, help="Bind address (default: HOST or 127.0.0.1)."),
          port: int = typer.Option(None, help="Port (default: PORT or 8000)."),
          worker: bool = typer.Option(None, "--worker/--no-worker", show_default=False,
                                      help="Run a turn worker and the outbox sender in each"
                                           " process (default: yes)."),
          processes: int = typer.Option(1, "--processes", "-p", min=0, help=PROCESSES_HELP)):
    """Run the webhook server (and, by default, a worker). With no channel configured, on
    127.0.0.1, it runs in demo mode: open /simulator and chat. Embedded PostgreSQL and Redis
    stop when it stops."""
    from server.lifecycle import stopping_embedded_services

    configure_logging()
    settings = load_settings()
    settings = settings.model_copy(update={
        "host": host or settings.host, "port": port or settings.port,
        "serve_runs_worker": settings.serve_runs_worker if worker is None else worker})
    with stopping_embedded_services():  # however serve ends, SIGTERM included
        _serve(settings, _process_count(processes))


def _serve(settings, count: int) -> None:
    import os

    demo = checked(settings)  # before importing the app: a refusal comes in a second or two
    import uvicorn

    from server.app import create_app

    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    entry = f"simulator: {base}/simulator" if demo.on else f"console: {base}/console"
    console.print(f"Switchboard on {base}  ·  {entry}  ·  health: {base}/readyz"
                  + (f"  ·  {count} processes" if count > 1 else ""))
    if count == 1:
        # log_config=None: uvicorn's lines go through our (redacting) handlers, not its own.
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                    log_level="warning", log_config=None)
        return
    # uvicorn starts the processes (and restarts one that dies); each builds its app from the
    # environment, so the command-line choices travel there.
    from server import metrics

    metrics.share_between(count)  # one /metrics for every process, whichever answers
    os.environ.update(_share_services(settings), HOST=settings.host, PORT=str(settings.port),
                      SERVE_RUNS_WORKER=str(settings.serve_runs_worker).lower())
    uvicorn.run("server.app:serve_app", factory=True, workers=count, host=settings.host,
                port=settings.port, log_level="warning", log_config=None)


def worker(processes: int = typer.Option(None, "--processes", "-p", min=0, show_default=False,
                                         help=PROCESSES_HELP + " Default: WORKER__PROCESSES or 1.")):
    """Run turn workers and outbox senders (add processes, here or on other machines, to scale
    out; they share Redis and Postgres through REDIS_URL and DATABASE_URL)."""
    from server.lifecycle import stopping_embedded_services

    configure_logging()
    settings = load_settings()
    count = _process_count(settings.worker.processes if processes is None else processes)
    with stopping_embedded_services():  # however the worker ends, SIGTERM included
        checked(settings, serves_http=False)
        from server import metrics

        metrics.share_between(count)
        metrics.serve_for_workers(settings.metrics.worker_port, settings.metrics.worker_host)
        if count == 1:
            run_worker_process()
            return
        from server.supervisor import supervise

        supervise(count, _share_services(settings))


def run_worker_process(environment: dict[str, str] | None = None) -> None:
    """One worker process: a turn worker, the outbox sender and the SLA watcher until stopped."""
    import os

    from graph.base.settings import get_settings
    from server.composition import open_server
    from server.tracing import SERVICE_WORKER

    if environment:  # a child of `worker --processes N`
        os.environ.update(environment)
        get_settings.cache_clear()
        configure_logging()

    async def run() -> None:
        async with open_server(get_settings(), service=SERVICE_WORKER) as parts:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, parts.stop.set)
            parts.start_workers()
            console.print(f"worker running (pid {os.getpid()}); Ctrl-C to stop")
            await parts.stop.wait()

    asyncio.run(run())
