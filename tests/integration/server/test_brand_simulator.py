"""A server configured as another business speaks as it end to end: the simulator page, the
greeting sent over the real webhook path, and `switchboard simulate` in the terminal."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from graph.base.settings import BusinessSettings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


async def test_a_configured_business_is_who_the_customer_chats_with(start_server, phone):
    server = await start_server(business=BusinessSettings(name="Acme Tiles",
                                                          description="a Dutch tile wholesaler"))
    page = (await server.http.get("/simulator")).text
    assert "<h1>Acme Tiles</h1>" in page and "Harbor" not in page

    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb", "PYTHONIOENCODING": "utf-8"}
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "server.cli", "simulate", "--url", server.url,
                         "--phone", phone], input="hello\n", capture_output=True, text=True,
        encoding="utf-8", env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "chatting with Acme Tiles as" in result.stdout
    # First contact: who the business is and that a bot writes, then the greeting.
    assert "Acme Tiles › You're chatting with the automated assistant of Acme Tiles." in result.stdout
    assert "Hi! 👋 This is Acme Tiles support." in result.stdout
    assert "Harbor" not in result.stdout

    messages = (await server.http.get("/simulator/api/messages", params={"phone": phone})).json()
    assert messages["business"] == "Acme Tiles"
    assert [m["text"] for m in messages["messages"] if m["from"] == "business"] == [
        "You're chatting with the automated assistant of Acme Tiles. A person from our team can"
        " take over at any time: just reply HUMAN.\n\nHi! 👋 This is Acme Tiles support. How can"
        " I help you today?"]
