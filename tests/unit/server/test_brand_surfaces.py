"""What a newcomer sees first names the configured business: the simulator page's header and
the terminal chat's banner and reply panels (BUSINESS__NAME), escaped where it is shown."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from rich.console import Console

from graph.base.settings import Settings
from server.cli import chat
from server.routes import simulator


async def simulator_page(name: str) -> str:
    app = FastAPI()
    simulator.mount(app, Settings(_env_file=None, business={"name": name}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/simulator")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    return response.text


async def test_the_simulator_is_headed_with_the_configured_name():
    page = await simulator_page("Acme Tiles")
    assert "<h1>Acme Tiles</h1>" in page and "Harbor" not in page
    assert '<script src="/static/simulator.js"></script>' in page  # the rest of the page is intact


async def test_the_default_simulator_is_the_demo_store():
    assert "<h1>Harbor &amp; Pine</h1>" in await simulator_page("Harbor & Pine")


async def test_a_name_is_text_on_the_page_not_markup():
    page = await simulator_page("Acme <script>alert(1)</script> & Co")
    assert "<h1>Acme &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</h1>" in page
    assert "<script>alert" not in page


@pytest.fixture
def terminal(monkeypatch) -> Console:
    console = Console(record=True, width=200, color_system=None)
    monkeypatch.setattr(chat, "console", console)
    return console


def test_the_chat_banner_and_replies_name_the_configured_business(terminal):
    terminal.print(chat.banner("Acme Tiles", "447700900101", "offline brain"))
    chat._show(["Hi! 👋 This is Acme Tiles support."], "Acme Tiles")
    out = terminal.export_text()
    assert "Acme Tiles · Switchboard chat · 447700900101 · offline brain" in out
    assert "─ Acme Tiles ─" in out and "Harbor" not in out


def test_a_name_or_reply_in_brackets_is_shown_as_written(terminal):
    terminal.print(chat.banner("[bold]Acme[/bold]", "447700900101", "offline brain"))
    chat._show(["See [link removed] for details."], "[red]Acme")
    out = terminal.export_text()
    assert "[bold]Acme[/bold] · Switchboard chat" in out
    assert "[red]Acme" in out and "See [link removed] for details." in out
