"""`switchboard forget` and `switchboard prune` as an operator meets them: real processes on
the real database and Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from server.privacy.data_map import PLACES
from tests.integration.server.console.conftest import new_phone
from tests.integration.server.privacy.helpers import where_found

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "server.cli"]
ROOT = Path(__file__).resolve().parents[4]


def _run(args, database_url, data_dir, redis_url, stdin=""):
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(data_dir),
           "REDIS_URL": redis_url, "COLUMNS": "200", "TERM": "dumb"}
    return subprocess.run(CLI + args, input=stdin, capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=180)


async def _stored_message(pool, key: str) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO inbound_messages (provider, provider_message_id, conversation_key, kind,"
            " body, needs_turn, sent_at, state, payload) VALUES ('meta', %s, %s, 'text', 'hi',"
            " false, now(), 'done', '{}')", (f"wamid.{uuid.uuid4().hex}", key))


@pytest.fixture
async def pool(settings, database_url):
    from server.composition import open_privacy

    async with open_privacy(settings, database_url=database_url) as privacy:
        yield privacy.database.pool


async def test_forget_erases_and_says_what_went(pool, database_url, data_dir, redis_server):
    phone = new_phone()
    await _stored_message(pool, phone)
    typed = f"+{phone[:2]} ({phone[2:6]}) {phone[6:]}"
    result = _run(["forget", typed, "--by", "dpo", "--yes"], database_url, data_dir, redis_server.url)
    assert result.returncode == 0, result.stderr
    assert "Forgot c_" in result.stdout and "inbound_messages 1" in result.stdout
    assert phone not in result.stdout + result.stderr
    assert await where_found(pool, [phone]) == {}
    async with pool.connection() as conn:
        rows = await (await conn.execute("SELECT 1 FROM audit_events WHERE kind = 'erasure'"
                                         " AND actor = 'agent:dpo'")).fetchall()
    assert rows
    again = _run(["forget", typed, "--yes"], database_url, data_dir, redis_server.url)
    assert again.returncode == 2
    assert again.stderr.strip() == "nothing stored about that customer: nothing to forget"


@pytest.mark.parametrize("identifier", ["hello", "12", "c_123", "bsuid:"])
def test_forget_refuses_what_names_nobody_in_one_line(identifier, database_url, data_dir, redis_server):
    result = _run(["forget", identifier, "--yes"], database_url, data_dir, redis_server.url)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cannot forget:") and "Traceback" not in result.stderr


async def test_forget_asks_first_and_erases_nothing_when_declined(pool, database_url, data_dir,
                                                                 redis_server):
    phone = new_phone()
    await _stored_message(pool, phone)
    result = _run(["forget", phone], database_url, data_dir, redis_server.url, stdin="n\n")
    assert result.returncode == 1 and "nothing erased" in result.stderr
    assert await where_found(pool, [phone]) != {}


def test_prune_dry_run_and_prune_print_per_class(database_url, data_dir, redis_server):
    dry = _run(["prune", "--dry-run"], database_url, data_dir, redis_server.url)
    assert dry.returncode == 0, dry.stderr
    assert "Would remove: raw_payload" in dry.stdout and "audit_events" in dry.stdout
    real = _run(["prune"], database_url, data_dir, redis_server.url)
    assert real.returncode == 0, real.stderr
    assert "Removed: raw_payload" in real.stdout and "media" in real.stdout


async def test_every_table_keyed_by_a_customer_is_in_the_data_map(pool):
    """A new table with a customer key must be added to server/privacy/data_map.py."""
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            "SELECT DISTINCT table_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND column_name IN ('conversation_key', 'key', 'number_key', 'thread_id',"
            " 'conversation_ref', 'recipient', 'phone')")).fetchall()
    keyed = {row["table_name"] for row in rows}
    mapped = {place.name for place in PLACES} | {"checkpoint_blobs", "checkpoint_writes"}
    not_customers = {"shop_customers", "verification_key"}  # the business's shop; a secret
    assert keyed - not_customers - mapped == set()
