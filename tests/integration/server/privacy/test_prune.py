"""`prune` on real PostgreSQL, Redis and a local media store: rows older than each class's
period are blanked or deleted, newer ones stay, and so do unfinished turns' messages, unsent
replies, threads a human owns and erasure tombstones; a dry run changes nothing; across two
runners only one prunes a day."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from prometheus_client import REGISTRY

from graph.base import audit
from graph.base.audit import AuditEvent, AuditKind
from graph.base.settings import RetentionSettings
from server import conversation_ids
from server.composition import open_privacy
from server.media.store import LocalMediaStore, new_key
from server.privacy import daily
from server.privacy.daily import DailyPrune
from server.privacy.prune import Pruning, prune
from server.redis_client import open_redis
from tests.integration.server.console.conftest import new_phone
from tests.integration.server.privacy.helpers import snapshot

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
PRUNED_METRIC = "switchboard_prune_deleted_total"
RETENTION = RetentionSettings(raw_payload_days=30, message_text_days=90, checkpoint_days=90,
                              audit_days=365, media_days=60)
TABLES = ("inbound_messages", "outbox", "inbound_media", "verification_attempts", "audit_events",
          "checkpoints", "conversation_fences", "desk_events", "desk_conversations")


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def _message(conn, key: str, days: float, state: str = "done") -> int:
    row = await (await conn.execute(
        "INSERT INTO inbound_messages (provider, provider_message_id, conversation_key, kind, body,"
        " needs_turn, sent_at, received_at, state, payload, turn_key) VALUES ('meta', %s, %s,"
        " 'text', 'my order HP-1', true, %s, %s, %s, %s, %s) RETURNING id",
        (f"wamid.{uuid.uuid4().hex}", key, ago(days), ago(days), state,
         json.dumps({"from": key, "type": "text"}),
         f"{key}:1" if state == "in_turn" else None))).fetchone()  # as inbox.claim leaves it
    return row["id"]


async def _outbox(conn, key: str, days: float, status: str, kind: str = "text") -> int:
    row = await (await conn.execute(
        "INSERT INTO outbox (idempotency_key, conversation_key, recipient, provider, kind, body,"
        " status, created_at, last_error) VALUES (%s, %s, %s, 'meta', %s, 'Your order ships',"
        " %s, %s, '{\"code\": 131047}') RETURNING id",
        (uuid.uuid4().hex, key, key, kind, status, ago(days)))).fetchone()
    return row["id"]


async def _media(conn, store: LocalMediaStore, key: str, days: float) -> tuple[int, Path]:
    storage_key = new_key("jpg")
    await store.put(storage_key, b"\xff\xd8 a photo", "image/jpeg")
    row = await (await conn.execute(
        "INSERT INTO inbound_media (provider, provider_message_id, conversation_key, kind, state,"
        " storage_key, transcript, filename, created_at) VALUES ('meta', %s, %s, 'image', 'stored',"
        " %s, 'a transcript', 'me.jpg', %s) RETURNING id",
        (f"wamid.{uuid.uuid4().hex}", key, storage_key, ago(days)))).fetchone()
    return row["id"], store.path(storage_key)


async def _thread(saver: AsyncPostgresSaver, key: str, days: float, checkpoints: int = 1) -> str:
    thread = conversation_ids.thread_id(key)  # type: ignore[arg-type]
    config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    for step in range(checkpoints):
        checkpoint = {**empty_checkpoint(), "ts": ago(days).isoformat()}
        config = await saver.aput(config, checkpoint, {"source": "input", "step": step - 1}, {})
    return thread


async def _world(pool, store: LocalMediaStore) -> dict:
    """Rows on both sides of every period; returns their ids."""
    old, mid, new, human, busy = (new_phone() for _ in range(5))
    saver = AsyncPostgresSaver(pool)
    w: dict = {"keys": (old, mid, new, human, busy)}
    async with pool.connection() as conn:
        w["msg_old"] = await _message(conn, old, 100)
        w["msg_mid"] = await _message(conn, mid, 40)
        w["msg_new"] = await _message(conn, new, 1)
        w["msg_unfinished"] = await _message(conn, busy, 100, state="in_turn")
        w["out_old"] = await _outbox(conn, old, 100, "delivered")
        w["out_unsent"] = await _outbox(conn, old, 100, "pending")
        w["receipt_old"] = await _outbox(conn, old, 40, "read", kind="read_receipt")
        w["out_new"] = await _outbox(conn, new, 1, "delivered")
        w["media_old"] = await _media(conn, store, old, 100)
        w["media_new"] = await _media(conn, store, new, 10)
        await conn.execute(
            "INSERT INTO verification_attempts (at, number_key, outcome, reason, failures) VALUES"
            " (%s, 'old-hash', 'failed', 'mismatch', 1), (%s, 'new-hash', 'failed', 'mismatch', 1)",
            (ago(400), ago(10)))
        await audit.record(conn, AuditEvent(kind=AuditKind.REPLY, actor="bot", at=ago(400),
                                            conversation_ref=conversation_ids.ref(old)),
                           AuditEvent(kind=AuditKind.ERASURE, actor="cli", at=ago(400)),
                           AuditEvent(kind=AuditKind.REPLY, actor="bot", at=ago(10),
                                      conversation_ref=conversation_ids.ref(new)))
        await conn.execute("INSERT INTO conversation_fences VALUES (%s, 1), (%s, 2)", (old, new))
        await conn.execute("INSERT INTO turns (turn_key, conversation_key, outcome, messages,"
                           " replies, committed_at) VALUES (%s, %s, 'replied', 1, 1, now())",
                           (f"{new}:2", new))
        await conn.execute("INSERT INTO desk_conversations (key, state, summary, customer_name,"
                           " updated_at) VALUES (%s, 'CLOSED', 'wants a refund', 'Zed', %s),"
                           " (%s, 'AGENT', 'waiting', 'Ann', %s)", (old, ago(100), human, ago(100)))
        await conn.execute("INSERT INTO desk_events (conversation_key, at, actor, kind, payload)"
                           " VALUES (%s, %s, 'customer', 'customer_message', '{\"text\": \"hi\"}'),"
                           " (%s, %s, 'customer', 'customer_message', '{\"text\": \"hello\"}')",
                           (old, ago(100), new, ago(1)))
    for name, key, days in (("thread_old", old, 100), ("thread_new", new, 1),
                            ("thread_human", human, 100), ("thread_busy", busy, 100)):
        w[name] = await _thread(saver, key, days, checkpoints=3 if name == "thread_new" else 1)
    return w


async def test_prune_removes_what_is_past_its_period_and_a_dry_run_nothing(
        settings, database_url, tmp_path):
    async with open_privacy(settings, database_url=database_url) as privacy:
        pool = privacy.database.pool
        store = LocalMediaStore(tmp_path / "media")
        pruning = Pruning(pool, store, RETENTION)
        w = await _world(pool, store)
        before = await snapshot(pool, TABLES)
        dry = await prune(pruning, dry_run=True, now=NOW)
        assert await snapshot(pool, TABLES) == before and w["media_old"][1].exists()
        counted = REGISTRY.get_sample_value(PRUNED_METRIC, {"data_class": "audit"}) or 0.0
        done = await prune(pruning, now=NOW)
        assert REGISTRY.get_sample_value(PRUNED_METRIC, {"data_class": "audit"}) == counted + sum(
            p.count for p in done if p.data_class == "audit")  # what the dry run did not count
        assert [(p.what, p.count) for p in dry] == [(p.what, p.count) for p in done]
        assert all(p.count > 0 for p in done), done  # every step had something to do here

        async def one(sql: str, *args) -> dict:
            async with pool.connection() as conn:
                return await (await conn.execute(sql, args)).fetchone()

        messages = "SELECT body, payload FROM inbound_messages WHERE id = %s"
        assert await one(messages, w["msg_old"]) == {"body": "", "payload": {}}
        assert await one(messages, w["msg_mid"]) == {"body": "my order HP-1", "payload": {}}
        assert (await one(messages, w["msg_new"]))["payload"] != {}
        assert (await one(messages, w["msg_unfinished"]))["body"] == "my order HP-1"
        outbox = "SELECT body, last_error, status FROM outbox WHERE id = %s"
        assert await one(outbox, w["out_old"]) == {"body": None, "last_error": None, "status": "delivered"}
        assert (await one(outbox, w["out_unsent"]))["body"] == "Your order ships"
        assert await one(outbox, w["receipt_old"]) is None
        assert (await one(outbox, w["out_new"]))["body"] == "Your order ships"
        assert await one("SELECT 1 FROM inbound_media WHERE id = %s", w["media_old"][0]) is None
        assert not w["media_old"][1].exists() and w["media_new"][1].exists()
        assert await one("SELECT transcript FROM inbound_media WHERE id = %s",
                         w["media_new"][0]) == {"transcript": "a transcript"}
        hashes = await snapshot(pool, ("verification_attempts",))
        assert {r["number_key"] for r in hashes["verification_attempts"]} >= {"new-hash"}
        assert "old-hash" not in {r["number_key"] for r in hashes["verification_attempts"]}
        kinds = await snapshot(pool, ("audit_events",))
        assert not [r for r in kinds["audit_events"] if r["at"] < ago(365) and r["kind"] != "erasure"]
        assert [r for r in kinds["audit_events"] if r["at"] < ago(365) and r["kind"] == "erasure"]
        saver = AsyncPostgresSaver(pool)
        alive = {name: await saver.aget_tuple({"configurable": {"thread_id": w[name]}}) is not None
                 for name in ("thread_old", "thread_new", "thread_human", "thread_busy")}
        assert alive == {"thread_old": False, "thread_new": True, "thread_human": True,
                         "thread_busy": True}
        history = [c async for c in saver.alist({"configurable": {"thread_id": w["thread_new"]}})]
        assert len(history) == 1  # a live thread keeps only the checkpoint it resumes from
        old, _, new, human, _ = w["keys"]
        fences = await snapshot(pool, ("conversation_fences",))
        assert {r["conversation_key"] for r in fences["conversation_fences"]} & {old, new} == {new}
        desk = await snapshot(pool, ("desk_conversations", "desk_events"))
        rows = {r["key"]: r for r in desk["desk_conversations"]}
        assert (rows[old]["summary"], rows[old]["customer_name"]) == (None, None)
        assert rows[human]["summary"] == "waiting"  # a human still owns it
        texts = {r["conversation_key"]: r["payload"] for r in desk["desk_events"]
                 if r["conversation_key"] in (old, new)}
        assert texts == {old: {}, new: {"text": "hello"}}
        again = await prune(pruning, now=NOW)
        assert all(p.count == 0 for p in again), again  # nothing is pruned twice
        async with pool.connection() as conn:  # a later test's worker must not find it unfinished
            await conn.execute("UPDATE inbound_messages SET state = 'done' WHERE id = %s",
                               (w["msg_unfinished"],))


async def test_a_period_of_zero_keeps_the_class_forever(settings, database_url, tmp_path):
    async with open_privacy(settings, database_url=database_url) as privacy:
        keep_all = RetentionSettings(raw_payload_days=0, message_text_days=0, checkpoint_days=0,
                                     audit_days=0, media_days=0)
        assert await prune(Pruning(privacy.database.pool, LocalMediaStore(tmp_path), keep_all)) == []


async def test_only_one_of_two_runners_prunes_a_day(settings, database_url, redis_server, tmp_path):
    async with open_privacy(settings, database_url=database_url) as privacy:
        pruning = Pruning(privacy.database.pool, LocalMediaStore(tmp_path), RETENTION)
        first, second = (open_redis(redis_server.url) for _ in range(2))
        try:
            runners = [DailyPrune(pruning, first), DailyPrune(pruning, second)]
            assert sorted(await asyncio.gather(*(r.run_once() for r in runners))) == [False, True]
            assert await asyncio.gather(*(r.run_once() for r in runners)) == [False, False]
            assert await first.exists(daily.LOCK) == 0  # released after the run
            await first.set(daily.LAST_RUN, str(NOW.timestamp() - daily.EVERY_S - 1))  # a day on
            await first.set(daily.LOCK, "a runner that died", ex=60)
            assert await asyncio.gather(*(r.run_once() for r in runners)) == [False, False]
            await first.delete(daily.LOCK)
            assert sorted(await asyncio.gather(*(r.run_once() for r in runners))) == [False, True]
        finally:
            await first.aclose()
            await second.aclose()
