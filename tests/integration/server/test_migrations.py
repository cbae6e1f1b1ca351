"""Schema migrations on a real Postgres, each test in a database of its own: a new database gets
the whole schema, one made by the previous version (apply_schema) is adopted with its data,
processes starting together apply each migration once, and an edited or failing migration stops
the start."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from server import conversation_ids
from server.migrations import DIRECTORY, MigrationError, load, migrate

pytestmark = pytest.mark.integration
PREVIOUS = Path(__file__).resolve().parents[2] / "fixtures" / "schema_previous.sql"
ALL = [m.name for m in load()]


@pytest.fixture
async def new_database(database_url):
    """Factory: an empty database of the test's own; dropped afterwards."""
    made: list[str] = []

    async def make() -> str:
        name = f"migrations_{uuid.uuid4().hex[:10]}"
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
            await admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return make_conninfo(database_url, dbname=name)
    yield make
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        for name in made:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def connect(url: str) -> psycopg.AsyncConnection:
    return await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row)


async def rows(conn, sql: str, *args) -> list[dict]:
    return await (await conn.execute(sql, args)).fetchall()


async def shape(conn) -> dict[str, list]:
    """Tables, columns, indexes, constraints, functions and triggers of the public schema."""
    return {
        "columns": await rows(conn, "SELECT table_name, column_name, data_type, is_nullable,"
                              " column_default FROM information_schema.columns WHERE"
                              " table_schema = 'public' ORDER BY 1, 2"),
        "indexes": await rows(conn, "SELECT indexname, indexdef FROM pg_indexes"
                              " WHERE schemaname = 'public' ORDER BY 1"),
        "constraints": await rows(conn, "SELECT conrelid::regclass::text AS tbl, conname,"
                                  " pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE"
                                  " connamespace = 'public'::regnamespace ORDER BY 1, 2"),
        "functions": await rows(conn, "SELECT proname, prosrc FROM pg_proc"
                                " WHERE pronamespace = 'public'::regnamespace ORDER BY 1"),
        "triggers": await rows(conn, "SELECT tgname, pg_get_triggerdef(oid) AS def FROM pg_trigger"
                               " WHERE NOT tgisinternal ORDER BY 1"),
    }


async def data(conn) -> dict[str, list]:
    """Every row of every table, as JSON, in a stable order."""
    tables = [r["tablename"] for r in await rows(
        conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
              " AND tablename NOT IN ('schema_migrations', 'switchboard_schema') ORDER BY 1")]
    return {t: sorted(json.dumps(r["row"], sort_keys=True) for r in await rows(
        conn, f"SELECT to_jsonb(t) AS row FROM {t} t")) for t in tables}


async def test_a_new_database_gets_the_whole_schema_once(new_database):
    url = await new_database()
    async with await connect(url) as conn:
        assert await migrate(conn) == ALL
        assert await migrate(conn) == []  # up to date: nothing runs
        recorded = await rows(conn, "SELECT version, name, checksum FROM schema_migrations ORDER BY 1")
        assert [(r["version"], r["name"], r["checksum"]) for r in recorded] == [
            (m.version, m.name, m.checksum) for m in load()]
        tables = {r["tablename"] for r in await rows(
            conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"inbound_messages", "turns", "outbox", "desk_conversations", "desk_csat",
                "desk_events", "inbound_media", "shop_tickets", "verification_attempts",
                "console_login_events", "schema_migrations"} <= tables
        assert not {"switchboard_schema", "held_messages"} & tables
        # The status list in SQL is the one the code uses.
        [check] = await rows(conn, "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint"
                                   " WHERE conname = 'outbox_status_check'")
        from server.outbox import STATUSES
        assert sorted(s.split("'")[1] for s in check["def"].split("ARRAY[")[1].split(",")) \
            == sorted(STATUSES)


PREVIOUS_ROWS = """
INSERT INTO conversation_ref_key (inner_pad, outer_pad) VALUES ('\\x3636', '\\x5c5c');
INSERT INTO shop_customers (id, name, phone, email, postcode) VALUES
    ('C-9', 'Ada', '447700900999', 'ada@example.com', 'AB1 2CD');
INSERT INTO shop_orders (id, customer_id, status, placed_at, total_gbp, items) VALUES
    ('HP-9', 'C-9', 'shipped', now(), 12.50, '{mug}');
INSERT INTO shop_tickets (customer_id, subject, idempotency_key) VALUES ('C-9', 'late', 'k1');
INSERT INTO verification_attempts (at, number_key, outcome, reason, failures)
    VALUES (now(), 'nk', 'failed', 'mismatch', 1);
INSERT INTO inbound_messages (provider, provider_message_id, conversation_key, kind, body,
    needs_turn, sent_at, payload, truncated_from) VALUES
    ('meta', 'wamid.new', '447700900999', 'text', 'hi', true, now(),
     '{"id": "wamid.new", "_minimised": true}', NULL),
    ('meta', 'wamid.old', '447700900999', 'text', 'hello', true, now(),
     '{"id": "wamid.old", "text": {"body": "card 4111"}}', 5000);
INSERT INTO turns (turn_key, conversation_key, outcome, messages, replies)
    VALUES ('t1', '447700900999', 'replied', 1, 1);
INSERT INTO outbox (idempotency_key, conversation_key, recipient, provider, kind, body, status,
    tell_desk) VALUES ('o1', '447700900999', '447700900999', 'meta', 'text', 'hello', 'failed', true);
INSERT INTO desk_agents (id, name, password_hash, role, demo) VALUES ('sam', 'Sam', 'x', 'agent', true);
INSERT INTO desk_conversations (key, state, assigned_agent, callback_at)
    VALUES ('447700900999', 'AGENT', 'sam', now());
INSERT INTO desk_events (conversation_key, actor, kind) VALUES ('447700900999', 'bot', 'transition');
INSERT INTO desk_csat (conversation_key, agent_id, score, raw_kind) VALUES ('447700900999', 'sam', 5, 'digit');
INSERT INTO held_messages (thread_id, body, source_key) VALUES ('wa:447700900999', 'waiting', 's1');
INSERT INTO inbound_media (provider, provider_message_id, conversation_key, kind)
    VALUES ('meta', 'wamid.new', '447700900999', 'image');
"""


async def test_a_database_of_the_previous_version_is_adopted_with_its_data(new_database):
    previous, fresh = await new_database(), await new_database()
    async with await connect(previous) as conn:
        await conn.execute(PREVIOUS.read_text(), prepare=False)  # as commit 3943256 made it
        await conn.execute(PREVIOUS_ROWS, prepare=False)
        before = await data(conn)
        assert await migrate(conn) == ALL
        after = await data(conn)
        adopted = await shape(conn)
        tables = {r["tablename"] for r in await rows(
            conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        [ref] = await rows(conn, "SELECT ref FROM desk_conversations")
    # Every row is still there, unchanged, but for the legacy payload the migration minimised.
    old = next(r for r in before["inbound_messages"] if "wamid.old" in r)
    assert old not in after["inbound_messages"]
    after["inbound_messages"] = [r for r in after["inbound_messages"] if "wamid.old" not in r]
    before["inbound_messages"].remove(old)
    # The held message is the desk's customer_message event now (0005); held_messages is gone.
    assert "held_messages" not in after and len(before.pop("held_messages")) == 1
    moved = [json.loads(r) for r in after["desk_events"] if "customer_message" in r]
    assert [(m["conversation_key"], m["actor"], m["payload"]) for m in moved] == [
        ("447700900999", "customer", {"text": "waiting"})]
    after["desk_events"] = [r for r in after["desk_events"] if "customer_message" not in r]
    # 0004 adds desk_conversations.handback, empty on adopted rows (no hand-back waits).
    handbacks = [json.loads(r).pop("handback") for r in after["desk_conversations"]]
    assert handbacks == [None]
    after["desk_conversations"] = sorted(json.dumps(
        {k: v for k, v in json.loads(r).items() if k != "handback"}, sort_keys=True)
        for r in after["desk_conversations"])
    # 0007 adds outbox.interactive, empty on adopted rows (they offered no buttons); 0009
    # outbox.consent_notice, false on them (none confirms a STOP or START).
    offered = [json.loads(r).pop("interactive") for r in after["outbox"]]
    assert offered == [None]
    assert [json.loads(r)["consent_notice"] for r in after["outbox"]] == [False]
    added = ("interactive", "consent_notice")
    after["outbox"] = sorted(json.dumps(
        {k: v for k, v in json.loads(r).items() if k not in added}, sort_keys=True)
        for r in after["outbox"])
    # Tables added since (0008 audit_events, 0009 customer_consent) start empty.
    assert [after.pop(new) for new in ("audit_events", "customer_consent")] == [[], []]
    assert after == before
    async with await connect(previous) as conn:
        [payload] = await rows(conn, "SELECT payload FROM inbound_messages"
                                     " WHERE provider_message_id = 'wamid.old'")
    assert payload["payload"] == {"id": "wamid.old", "_minimised": "legacy"}
    assert ref["ref"] and ref["ref"].startswith("c_")  # the trigger still fills refs
    assert "schema_migrations" in tables and "switchboard_schema" not in tables
    # And the adopted schema is the very schema a new database gets.
    async with await connect(fresh) as conn:
        await migrate(conn)
        assert await shape(conn) == adopted


async def test_held_messages_become_desk_events_once(new_database, tmp_path):
    """0005 moves messages held for a human into the desk's event log, in order, except those
    the desk already recorded, and drops held_messages."""
    url = await new_database()
    before = write(tmp_path / "m", {f.name: f.read_text() for f in sorted(DIRECTORY.glob("*.sql"))
                                    if f.name < "0005"})
    async with await connect(url) as conn:
        await migrate(conn, before)
        await conn.execute(
            "INSERT INTO desk_events (conversation_key, actor, kind, payload) VALUES"
            " ('447700900998', 'customer', 'customer_message', '{\"text\": \"hello?\"}')")
        await conn.execute(
            "INSERT INTO held_messages (thread_id, body, source_key) VALUES"
            " ('wa:447700900998', 'hello?', 'a:0'), ('wa:447700900998', 'my order HP-1', 'a:1'),"
            " ('wa:bsuid:US.1349', 'first', 'b:0'), ('wa:bsuid:US.1349', 'second', 'b:1')")
        through_0005 = write(tmp_path / "n", {f.name: f.read_text() for f in sorted(
            DIRECTORY.glob("*.sql")) if f.name < "0006"})
        assert await migrate(conn, through_0005) == ["0005_held_messages_in_desk_events"]
        moved = await rows(conn, "SELECT conversation_key, actor, kind, payload->>'text' AS text"
                                 " FROM desk_events ORDER BY id")
        assert [(m["conversation_key"], m["text"]) for m in moved] == [
            ("447700900998", "hello?"), ("447700900998", "my order HP-1"),
            ("bsuid:US.1349", "first"), ("bsuid:US.1349", "second")]
        assert {(m["actor"], m["kind"]) for m in moved} == {("customer", "customer_message")}
        assert not await rows(conn, "SELECT 1 FROM pg_tables WHERE tablename = 'held_messages'")


async def test_threads_named_by_a_number_are_renamed_by_its_opaque_ref(new_database, tmp_path):
    """0006 renames LangGraph threads "wa:<number>" to "wa:<ref>" in all three checkpoint tables,
    making the HMAC secret when no process has yet (the ref Python computes from it agrees)."""
    url = await new_database()
    before = write(tmp_path / "m", {f.name: f.read_text() for f in sorted(DIRECTORY.glob("*.sql"))
                                    if f.name < "0006"})
    async with await connect(url) as conn:
        await migrate(conn, before)
        await AsyncPostgresSaver(conn).setup()  # LangGraph's own tables, as an older version left them
        for key, checkpoint in (("447700900996", "1"), ("bsuid:US.77", "2")):
            await conn.execute("INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id,"
                               " checkpoint) VALUES (%s, '', %s, '{}')", ("wa:" + key, checkpoint))
            await conn.execute("INSERT INTO checkpoint_writes (thread_id, checkpoint_ns,"
                               " checkpoint_id, task_id, idx, channel, blob) VALUES"
                               " (%s, '', %s, 't', 0, 'c', '')", ("wa:" + key, checkpoint))
        await conn.execute("INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id,"
                           " checkpoint) VALUES ('studio-thread', '', '3', '{}')")
        assert not await rows(conn, "SELECT 1 FROM conversation_ref_key")
        assert (await migrate(conn))[0] == "0006_opaque_thread_ids"  # and those after it
        key_row = (await rows(conn, "SELECT inner_pad, outer_pad FROM conversation_ref_key"))[0]
        pads = (bytes(key_row["inner_pad"]), bytes(key_row["outer_pad"]))
        expected = {"wa:" + conversation_ids.ref_with(pads, k) for k in ("447700900996", "bsuid:US.77")}
        for table in ("checkpoints", "checkpoint_writes"):
            threads = {r["thread_id"] for r in await rows(conn, f"SELECT thread_id FROM {table}")}
            assert threads - {"studio-thread"} == expected
        assert {r["thread_id"] for r in await rows(conn, "SELECT thread_id FROM checkpoints")} >= {
            "studio-thread"}  # threads not named by a number (Studio's) are left alone
        assert await migrate(conn) == []  # and it runs once


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


async def test_processes_starting_together_apply_each_migration_once(new_database, tmp_path):
    """Not idempotent on purpose: a second run of 0001 would fail, of 0002 would count twice."""
    url = await new_database()
    migrations = write(tmp_path / "m", {
        "0001_runs.sql": "CREATE TABLE runs (n int); SELECT pg_sleep(0.3);",
        "0002_count.sql": "INSERT INTO runs VALUES (1);"})
    conns = [await connect(url) for _ in range(4)]
    try:
        applied = await asyncio.gather(*(migrate(c, migrations) for c in conns))
        assert sorted(name for names in applied for name in names) == ["0001_runs", "0002_count"]
        [count] = await rows(conns[0], "SELECT count(*) AS n FROM runs")
        assert count["n"] == 1
    finally:
        for conn in conns:
            await conn.close()


async def test_an_edited_or_unknown_migration_stops_the_start(new_database, tmp_path):
    url = await new_database()
    migrations = write(tmp_path / "m", {"0001_things.sql": "CREATE TABLE things (id int);"})
    async with await connect(url) as conn:
        await migrate(conn, migrations)
        write(migrations, {"0001_things.sql": "CREATE TABLE things (id bigint);",
                           "0002_more.sql": "CREATE TABLE more (id int);"})
        with pytest.raises(MigrationError, match="0001_things was changed after it was applied"):
            await migrate(conn, migrations)
        assert not await rows(conn, "SELECT 1 FROM pg_tables WHERE tablename = 'more'")
        # A database migrated by a newer version: this code does not know its 0002.
        write(migrations, {"0001_things.sql": "CREATE TABLE things (id int);"})
        await migrate(conn, migrations)
        (migrations / "0002_more.sql").unlink()
        with pytest.raises(MigrationError, match="0002_more, which this version"):
            await migrate(conn, migrations)


async def test_a_failing_migration_is_rolled_back_whole(new_database, tmp_path):
    url = await new_database()
    migrations = write(tmp_path / "m", {"0001_ok.sql": "CREATE TABLE ok (id int);",
                                        "0002_broken.sql": "CREATE TABLE half (id int); SELECT 1/0;"})
    async with await connect(url) as conn:
        with pytest.raises(MigrationError, match="0002_broken failed and was rolled back"):
            await migrate(conn, migrations)
        assert not await rows(conn, "SELECT 1 FROM pg_tables WHERE tablename = 'half'")
        assert [r["name"] for r in await rows(conn, "SELECT name FROM schema_migrations")] == ["0001_ok"]
        write(migrations, {"0002_broken.sql": "CREATE TABLE half (id int);"})  # fixed, never applied
        assert await migrate(conn, migrations) == ["0002_broken"]


def test_misnamed_files_are_refused(tmp_path):
    with pytest.raises(MigrationError, match="NNNN_what_it_does.sql"):
        load(write(tmp_path / "a", {"1_short.sql": "SELECT 1;"}))
    with pytest.raises(MigrationError, match="used twice"):
        load(write(tmp_path / "b", {"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"}))
    assert [m.version for m in load()] == sorted({m.version for m in load()})
    assert (DIRECTORY / "0001_initial.sql").exists()


async def test_switchboard_migrate_brings_a_database_up_to_date(new_database, tmp_path):
    url = await new_database()
    env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(tmp_path), "COLUMNS": "200",
           "TERM": "dumb"}

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "server.cli", "migrate"], capture_output=True,
                              text=True, env=env, cwd=Path(__file__).resolve().parents[3],
                              timeout=120)
    first = await asyncio.to_thread(run)
    assert first.returncode == 0, first.stderr
    assert all(f"applied {name}" in first.stdout for name in ALL)
    second = await asyncio.to_thread(run)
    assert second.returncode == 0 and "(0 migration(s) applied now)" in second.stdout
    async with await connect(url) as conn:  # an applied file edited: the command refuses
        await conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
    third = await asyncio.to_thread(run)
    assert third.returncode == 1 and "0001_initial was changed" in third.stderr
