"""`switchboard serve`, `switchboard worker` and `switchboard simulate`."""

from __future__ import annotations

import asyncio
import signal
import time

import typer
from rich.console import Console

console = Console()


def _logging() -> None:
    import logging
    import os
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "chromadb"):  # request lines, not events
        logging.getLogger(noisy).setLevel(logging.WARNING)


def serve(host: str = typer.Option(None, help="Bind address (default: HOST or 127.0.0.1)."),
          port: int = typer.Option(None, help="Port (default: PORT or 8000)."),
          worker: bool = typer.Option(True, "--worker/--no-worker",
                                      help="Run one turn worker and the outbox sender in-process.")):
    """Run the webhook server (and, by default, a worker). With no Meta Graph URL configured,
    the simulator is mounted: open /simulator and chat."""
    import uvicorn

    from server.app import create_app

    _logging()
    from server.settings import get_settings

    settings = get_settings()
    settings = settings.model_copy(update={"host": host or settings.host, "port": port or settings.port})
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    console.print(f"Switchboard on {base}  ·  simulator: {base}/simulator  ·  health: {base}/readyz")
    uvicorn.run(create_app(settings, run_workers=worker), host=settings.host, port=settings.port,
                log_level="warning")


def worker():
    """Run a turn worker and an outbox sender (add processes to scale out; they share Redis
    and Postgres through REDIS_URL and DATABASE_URL)."""
    from server.runtime import open_runtime
    from server.settings import get_settings

    _logging()

    async def run() -> None:
        async with open_runtime(get_settings()) as runtime:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, runtime.stop.set)
            runtime.start_workers()
            console.print("worker running; Ctrl-C to stop")
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
