"""`switchboard chat` around a handoff, as a real process on real services: hand-backs answer
only what is new, a paused conversation says so at start, `--new` starts over, and `/resolve`
asks for a rating that is stored."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from nodes import prompts
from server.desk.desk import CSAT_PROMPT

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
GREETING = "This is Harbor & Pine support"


def chat(database_url, data_dir, phone, stdin, *options):
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(data_dir),
           "COLUMNS": "250", "TERM": "dumb", "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run([sys.executable, "-m", "server.cli", "chat", "--phone", phone, *options],
                            input=stdin, capture_output=True, text=True, encoding="utf-8", env=env, cwd=ROOT, timeout=180)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_hand_backs_repeat_nothing_and_answer_only_what_is_new(database_url, data_dir, phone):
    out = chat(database_url, data_dir, phone, "human please\nhow long do refunds take?\n"
               "/return\nhi\nhuman again\n/resolve\n/quit\n")
    assert out.count("I've asked a colleague") == 2  # once per handoff, never on /return or /resolve
    assert "returned to the bot" in out and "conversation closed" in out
    assert GREETING in out  # "hi" was answered, as itself...
    assert "5-7 working days" not in out  # ...and the question the human saw was not


def test_a_paused_conversation_says_so_and_new_starts_over(database_url, data_dir, phone):
    chat(database_url, data_dir, phone, "human please\n/quit\n", "--new")
    paused = chat(database_url, data_dir, phone, "/quit\n")
    assert "paused, waiting for a human (customer_request)" in paused
    fresh = chat(database_url, data_dir, phone, "hi\n/quit\n", "--new")
    assert "started a new conversation" in fresh and "waiting for a human" not in fresh
    assert GREETING in fresh  # the bot answers: nothing is held


def test_resolve_asks_for_a_rating_and_stores_it_against_the_agent(database_url, data_dir, phone):
    out = chat(database_url, data_dir, phone, "human please\n/resolve\n⭐⭐⭐⭐⭐\n/quit\n",
               "--agent-id", "cli-sam")
    assert CSAT_PROMPT.split("!")[0] in out and prompts.CSAT_THANKS.split("!")[0] in out
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT agent_id, score, raw_kind FROM desk_csat"
                            " WHERE conversation_key = %s", (phone,)).fetchall()
    assert rows == [("cli-sam", 5, "emoji")]


async def test_what_the_customer_writes_while_paused_reaches_the_bot_on_return(
        database_url, data_dir, phone, open_app):
    """No desk in the terminal: the chat keeps what the customer wrote while paused and hands it
    back with the human's messages."""
    out = await asyncio.to_thread(chat, database_url, data_dir, phone,
                                  "human please\nis HP-10002 on its way?\n/agent Yes, it is.\n"
                                  "/return\n/quit\n")
    assert "your message went to their queue" in out and "returned to the bot" in out
    app = await open_app()
    texts = [m.content for m in (await app.conversations.state(phone))["messages"]]
    assert texts.index("is HP-10002 on its way?") < texts.index("Yes, it is.")
