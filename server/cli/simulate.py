"""`switchboard simulate`: chat with a running server as a WhatsApp customer, in the terminal,
through the simulator's API (so the real webhook path). Without --url it finds the server where
`switchboard serve` would listen with the same settings (HOST, PORT)."""

from __future__ import annotations

import re
import time

import httpx
import typer
from rich.console import Console
from rich.markup import escape

console = Console()
WILDCARDS = {"", "0.0.0.0", "::", "[::]"}


def local_url() -> str:
    """Where `switchboard serve` listens with these settings, as this machine reaches it."""
    from server.cli.serve import load_settings

    settings = load_settings()
    host = settings.host.strip()
    host = "127.0.0.1" if host in WILDCARDS else (f"[{host}]" if ":" in host and "[" not in host else host)
    return f"http://{host}:{settings.port}"


class NoServer(Exception):
    """Nothing (or no Switchboard in demo mode) answers at the URL; the message says which."""


def _conversation(http: httpx.Client, phone: str) -> dict:
    """The simulator's view of this customer's chat: messages, and the business's name."""
    response = http.get("/simulator/api/messages", params={"phone": phone})
    if response.status_code == 404:
        raise NoServer(f"no simulator at {http.base_url}: that server is not in demo mode"
                       " (docs/deployment.md)")
    try:
        response.raise_for_status()
        body = response.json()
        return {"messages": list(body["messages"]), "business": str(body.get("business") or "business")}
    except (httpx.HTTPStatusError, ValueError, KeyError, TypeError, AttributeError):
        raise NoServer(f"{http.base_url} answered, but not as a Switchboard simulator"
                       f" (HTTP {response.status_code})") from None


def _messages(http: httpx.Client, phone: str) -> list[dict]:
    return _conversation(http, phone)["messages"]


def _wait_for_reply(http: httpx.Client, phone: str, seen: int, business: str) -> int:
    """Print the business's replies after message `seen`, under its name; the new count."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the debounce, the turn and the send
        fresh = _messages(http, phone)[seen:]
        if any(m["from"] == "business" for m in fresh):
            time.sleep(0.5)  # let the rest of a multi-part reply land
            messages = _messages(http, phone)
            for message in messages[seen:]:
                if message["from"] == "business":
                    # escaped: a reply's "[link removed]" is text, not rich markup
                    console.print(f"[green]{escape(business)} ›[/] {escape(message['text'])}",
                                  highlight=False)
            return len(messages)
        time.sleep(0.3)
    console.print("[yellow](no reply yet: a human may have the conversation)[/]")
    return seen


def _chat(http: httpx.Client, phone: str, name: str) -> None:
    conversation = _conversation(http, phone)
    seen, business = len(conversation["messages"]), conversation["business"]
    console.print(f"[dim]chatting with {escape(business)} as {phone} via {http.base_url};"
                  " Ctrl-D to leave[/]")
    while True:
        try:
            text = console.input("[bold cyan]you ›[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            return
        if not text:
            continue
        sent = http.post("/simulator/api/send", json={"phone": phone, "text": text, "name": name})
        if sent.status_code >= 400:
            console.print(f"[red](the server refused that message: HTTP {sent.status_code})[/]")
            continue
        seen = _wait_for_reply(http, phone, seen + 1, business)


def simulate(phone: str = typer.Option("447700900101", help="Your WhatsApp number as the customer."),
             url: str = typer.Option(None, help="The running `switchboard serve` (default: where"
                                                " it listens with HOST and PORT, else"
                                                " http://127.0.0.1:8000)."),
             name: str = typer.Option("Simulator Customer", help="Your WhatsApp profile name.")):
    """Chat with a running server as a WhatsApp customer, through the real webhook path."""
    if not re.fullmatch(r"\d{6,15}", phone):
        typer.echo("--phone must be 6 to 15 digits, no + or spaces (e.g. 447700900101)", err=True)
        raise typer.Exit(2)
    url = (url or local_url()).rstrip("/")
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            _chat(http, phone, name)
    except NoServer as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL):
        typer.echo(f"--url must be an http:// or https:// URL, not {url!r}", err=True)
        raise typer.Exit(2) from None
    except httpx.TransportError as error:
        why = "stopped answering" if isinstance(error, httpx.ReadError | httpx.RemoteProtocolError) \
            else "is not running"
        typer.echo(f"no Switchboard server at {url}: it {why}. Start one with `switchboard serve`"
                   " (or pass --url)", err=True)
        raise typer.Exit(1) from None
