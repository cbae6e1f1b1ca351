"""`forget` on real services: a customer with everything (turns through the real server with a
photo, an identity check, a handoff, an agent's reply and note, a CSAT rating, audit events),
then erased; afterwards no table holds the number, the ref, their name or e-mail, the audit
trail keeps one tombstone, and another customer and the demo shop are untouched."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from graph.base import audit
from graph.base.audit import AuditEvent, AuditKind
from server import conversation_ids
from server.composition import open_privacy
from server.inbound.lease import LEASE
from server.inbound.scheduler import DUE
from server.media.store import LocalMediaStore
from server.privacy.forget import Eraser
from tests.integration.server.console.conftest import console_for, new_phone, ref_for
from tests.integration.server.media.helpers import JPEG, media_row, replies_to
from tests.integration.server.privacy.helpers import BUSINESS_TABLES, snapshot, where_found
from tests.integration.server.test_webhooks import username_only_message
from tools.verification import VerificationLedger

pytestmark = pytest.mark.integration

SETTLED = ("sent", "delivered", "read", "failed", "dead", "skipped", "unknown")


async def _settled(server, phone: str) -> None:
    """Every outbox row of the customer has left the outbox worker's hands."""
    rows = await server.wait_for(
        "SELECT 1 FROM outbox WHERE conversation_key = %s HAVING bool_and(status = ANY(%s))",
        phone, list(SETTLED), within_s=30)
    assert rows, "the customer's replies were not all sent"


async def _customer_with_everything(server, phone: str, name: str, email: str) -> str:
    fake = server.fake_cloud_api
    await fake.send_customer_media(phone, "image", JPEG, "image/jpeg", name=name)
    await media_row(server, phone)
    await replies_to(server, phone, 1)
    await fake.send_customer_message(
        phone, f"Hi, I am {name}, write to {email}. Where is my order?", name=name)
    await replies_to(server, phone, 2)
    await fake.send_customer_message(phone, "HP-10007 41JS", name=name)  # an identity check
    assert await server.wait_for("SELECT 1 FROM turns WHERE conversation_key = %s", phone, count=3)
    await fake.send_customer_message(phone, "I want to talk to a human", name=name)
    assert await server.wait_for("SELECT 1 FROM desk_conversations WHERE key = %s"
                                 " AND state = 'PENDING_AGENT'", phone, within_s=30)
    ref = await ref_for(server, phone)
    agent = await console_for(server)
    try:
        await agent.act(ref, "claim")
        await agent.act(ref, "reply", text=f"Hello {name}, I am looking into it.")
        await agent.act(ref, "note", text=f"{name} asked about HP-10007")
        await agent.act(ref, "resolve", csat="1")
    finally:
        await agent.aclose()
    await fake.send_customer_message(phone, "5", name=name)
    assert await server.wait_for("SELECT 1 FROM desk_csat WHERE conversation_key = %s"
                                 " AND score = 5", phone)
    async with server.parts.pool.connection() as conn:
        await audit.record(conn, AuditEvent(kind=AuditKind.INBOUND, actor="customer",
                                            conversation_ref=ref, payload={"kind": "text"}),
                           AuditEvent(kind=AuditKind.HANDOFF, actor="bot", conversation_ref=ref,
                                      reason="customer asked"))
    await _settled(server, phone)
    return ref


async def _other_customer(server) -> tuple[str, str]:
    other = new_phone()
    await server.fake_cloud_api.send_customer_message(other, "how long do refunds take?")
    await replies_to(server, other, 1)
    await _settled(server, other)
    ref = conversation_ids.ref(other)
    async with server.parts.pool.connection() as conn:
        await audit.record(conn, AuditEvent(kind=AuditKind.REPLY, actor="bot", conversation_ref=ref))
    return other, ref


async def _rows_of(server, key: str, ref: str) -> dict[str, int]:
    counts = {}
    for table in ("inbound_messages", "outbox", "turns"):
        counts[table] = len(await server.rows(f"SELECT 1 FROM {table} WHERE conversation_key = %s", key))
    counts["checkpoints"] = len(await server.rows("SELECT 1 FROM checkpoints WHERE thread_id = %s",
                                                  "wa:" + ref))
    counts["audit"] = len(await server.rows("SELECT 1 FROM audit_events WHERE conversation_ref = %s", ref))
    return counts


async def test_a_forgotten_customer_is_nowhere_and_a_tombstone_says_so(
        start_server, settings, database_url):
    server = await start_server()
    phone = new_phone()
    name, email = f"Zelda Quux{uuid.uuid4().hex[:4]}", f"zq.{uuid.uuid4().hex[:8]}@example.org"
    ref = await _customer_with_everything(server, phone, name, email)
    other, other_ref = await _other_customer(server)
    [media] = await server.rows("SELECT storage_key FROM inbound_media WHERE conversation_key = %s", phone)
    file = Path(settings.data_dir) / "media" / media["storage_key"]
    assert file.exists()
    needles = [phone, ref, name, email]
    before = await where_found(server.parts.pool, needles)
    assert {phone, ref} <= before.keys(), before  # the search finds what is there
    assert any(place.startswith("checkpoint") for place in before[ref])
    assert "desk_events.payload" in before.get(name, set())
    other_before = await _rows_of(server, other, other_ref)
    assert all(other_before.values()), other_before
    shop_before = await snapshot(server.parts.pool, BUSINESS_TABLES)
    await server.parts.redis.zadd(DUE, {phone: 1.0})  # as if a message were waiting
    await server.parts.redis.set(LEASE + phone, "token")

    async with open_privacy(settings, database_url=database_url) as privacy:
        forgotten = await privacy.eraser.forget(f"+{phone[:4]} {phone[4:8]}-{phone[8:]}", by="agent:dpo")

    assert forgotten is not None and forgotten.ref == ref
    removed = forgotten.removed
    assert removed["inbound_messages"] >= 5 and removed["outbox"] >= 4 and removed["turns"] >= 3
    assert removed["inbound_media"] == 1 and removed["verification_attempts"] >= 1
    assert removed["desk_conversations"] == 1 and removed["desk_events"] >= 3
    assert removed["desk_csat"] == 1 and removed["checkpoints"] == 1 and removed["audit_events"] >= 10
    assert await where_found(server.parts.pool, needles) == {}
    assert not file.exists()
    assert await server.parts.redis.zscore(DUE, phone) is None
    assert await server.parts.redis.exists(LEASE + phone) == 0
    [tombstone] = await server.rows("SELECT * FROM audit_events WHERE kind = 'erasure'"
                                    " AND actor = 'agent:dpo'")
    assert tombstone["conversation_ref"] is None and tombstone["at"] is not None
    assert tombstone["payload"] == {"conversations": 1, "events_deleted": removed["audit_events"]}
    other_after = await _rows_of(server, other, other_ref)  # nothing of theirs removed (their
    # reply's delivery statuses may still be adding audit events meanwhile)
    assert all(other_after[table] >= count for table, count in other_before.items()), other_after
    assert await snapshot(server.parts.pool, BUSINESS_TABLES) == shop_before


async def test_forgetting_by_ref_or_bsuid_and_an_unknown_customer(start_server, settings, database_url):
    server = await start_server()
    phone = new_phone()
    await server.fake_cloud_api.send_customer_message(phone, "how long do refunds take?")
    await replies_to(server, phone, 1)
    await _settled(server, phone)
    user_id = "GB." + str(uuid.uuid4().int)[:20]  # a username-only customer, through the webhook
    await server.post_meta(username_only_message(user_id, "how long do refunds take?"))
    await _settled(server, f"bsuid:{user_id}")
    ref = conversation_ids.ref(phone)
    async with open_privacy(settings, database_url=database_url) as privacy:
        by_ref = await privacy.eraser.forget(ref, by="cli")
        by_bsuid = await privacy.eraser.forget(f"bsuid:{user_id}", by="cli")
        again = await privacy.eraser.forget(ref, by="cli")
        unknown = await privacy.eraser.forget(new_phone(), by="cli")
    assert by_ref is not None and by_ref.removed["inbound_messages"] == 1
    assert by_ref.removed["checkpoints"] == 1
    assert by_bsuid is not None and by_bsuid.removed["inbound_messages"] == 1
    assert by_bsuid.removed["outbox"] >= 1 and by_bsuid.removed["checkpoints"] == 1
    assert again is None and unknown is None
    assert await where_found(server.parts.pool, [phone, user_id, ref]) == {}


class _BrokenStore(LocalMediaStore):
    """A media store whose deletes fail, as an unreachable bucket would."""

    async def delete(self, key: str) -> None:
        raise OSError("the bucket is unreachable")


async def test_a_failed_file_deletion_erases_nothing_and_forgetting_again_finishes(
        start_server, settings, database_url):
    server = await start_server()
    phone = new_phone()
    await server.fake_cloud_api.send_customer_media(phone, "image", JPEG, "image/jpeg")
    media = await media_row(server, phone)
    await replies_to(server, phone, 1)
    await _settled(server, phone)
    root = Path(settings.data_dir) / "media"
    pool, redis = server.parts.pool, server.parts.redis
    ledger = VerificationLedger(pool, settings)
    with pytest.raises(OSError):
        await Eraser(pool, _BrokenStore(root), redis, ledger).forget(phone, by="cli")
    assert phone in await where_found(pool, [phone])  # the transaction rolled back whole
    assert (root / media["storage_key"]).exists()
    forgotten = await Eraser(pool, LocalMediaStore(root), redis, ledger).forget(phone, by="cli")
    assert forgotten is not None and forgotten.removed["inbound_media"] == 1
    assert await where_found(pool, [phone]) == {} and not (root / media["storage_key"]).exists()
