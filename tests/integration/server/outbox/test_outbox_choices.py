"""Rows with choices on a real Postgres, sent through pywa to the fake Cloud API over real
HTTP: reply buttons for up to three, a list for more, plain text outside the window.

The fixtures are test_outbox.py's, imported: tests take them as arguments of the same names."""
# ruff: noqa: F811

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from server import outbox
from tests.integration.server.outbox.test_outbox import (  # noqa: F401 (fixtures)
    TEMPLATE,
    fake,
    pool,
    receiver,
    recipient,
    rows,
    sender,
    sent_to,
    worker,
)

pytestmark = pytest.mark.integration

QUESTION = "Which order do you mean?\n{lines}\nReply with the number."


async def enqueue_choices(pool, recipient: str, count: int, *,
                          customer_age: timedelta = timedelta(minutes=1)) -> list[int]:
    refs = [f"HP-1{i:04d}" for i in range(1, count + 1)]
    text = QUESTION.format(lines="\n".join(f"{i}) {ref} Item {i}" for i, ref in enumerate(refs, 1)))
    choices = [{"id": ref, "title": ref, **({"description": f"Item {i}"} if count > 3 else {})}
               for i, ref in enumerate(refs, 1)]
    now = datetime.now(UTC)
    async with pool.connection() as conn, conn.transaction():
        return await outbox.enqueue_reply(
            conn, conversation_key=recipient, recipient=recipient, provider="meta", texts=[text],
            idempotency_key=f"turn-{uuid.uuid4()}", last_customer_at=now - customer_age, now=now,
            window_template=TEMPLATE, choices=choices)


async def test_two_orders_go_as_reply_buttons(pool, fake, worker, recipient):
    await enqueue_choices(pool, recipient, 2)
    assert await worker.run_once() >= 1
    [sent] = sent_to(fake, recipient)
    assert sent["type"] == "interactive" and sent["interactive"]["type"] == "button"
    assert sent["choices"] == ["HP-10001", "HP-10002"] and "1) HP-10001 Item 1" in sent["text"]
    [row] = await rows(pool, recipient)
    assert row["status"] == "sent" and row["provider_message_id"] == sent["id"]


async def test_five_orders_go_as_a_list_with_their_items(pool, fake, worker, recipient):
    await enqueue_choices(pool, recipient, 5)
    await worker.run_once()
    [sent] = sent_to(fake, recipient)
    assert sent["interactive"]["type"] == "list" and len(sent["choices"]) == 5
    [section] = sent["interactive"]["action"]["sections"]
    assert [r["description"] for r in section["rows"]] == [f"Item {i}" for i in range(1, 6)]


async def test_outside_the_window_the_template_goes_without_choices(pool, fake, worker,
                                                                    recipient):
    await enqueue_choices(pool, recipient, 2, customer_age=timedelta(hours=25))
    await worker.run_once()
    [sent] = sent_to(fake, recipient)
    assert sent["type"] == "template" and sent["interactive"] is None


async def test_choices_meta_refuses_fall_back_to_the_plain_text(fake, sender, recipient):
    body = "Which one?\n" + "x" * 1100  # over an interactive body's 1,024 characters
    message_id = await sender.send_choices(recipient, body, [{"id": "a", "title": "A"}],
                                           outbox_id=7)
    [sent] = sent_to(fake, recipient)
    assert sent["type"] == "text" and sent["text"] == body and sent["id"] == message_id
