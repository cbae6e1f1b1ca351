"""A long conversation's checkpoints stop growing (server/checkpoints.py, nodes/history_window.py)
and it still resumes right: pending handoff, verification, orders in play, the worker's turns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from graph.base.settings import CheckpointSettings
from nodes import prompts
from server import checkpoints
from server.conversation_ids import thread_id
from tests.integration.server.conftest import text_message

pytestmark = pytest.mark.integration

WINDOW = CheckpointSettings(keep_messages=10)
CHAT = ["hi there", "how long do refunds take?", "do you ship to Ireland?", "ok cool",
        "can I return a sofa if it does not fit?", "thanks!"]
"""Six varied messages: turns 30 and 60 are at the same point of the cycle."""
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")


def at(n: int) -> str:
    """Turn n's clock: a minute apart, so the rate limit never trips and the window stays open."""
    return (START + timedelta(seconds=61 * n)).isoformat()


async def stored(pool, phone: str) -> tuple[int, int]:
    """Rows and bytes (every row as text) the thread holds in LangGraph's three tables."""
    rows = size = 0
    async with pool.connection() as conn:
        for table in TABLES:
            row = await (await conn.execute(
                f"SELECT count(*) AS n, coalesce(sum(octet_length(t::text)), 0) AS b FROM {table} t"
                " WHERE thread_id = %s", (thread_id(phone),))).fetchone()
            rows, size = rows + row["n"], size + int(row["b"])
    return rows, size


async def chat(app, phone: str, turns: range, texts=CHAT) -> None:
    """Turns as the worker runs them: the turn, then the prune after its commit; a handoff is
    handed back at once, as an agent would."""
    for n in turns:
        turn = await app.conversations.handle(phone, texts[n % len(texts)], now=at(n), turn_key=f"k:{n}")
        if turn.handoff:
            await app.conversations.resume(phone, {"action": "return_to_bot", "agent": "ana"}, now=at(n))
        await checkpoints.after_turn(app.conversations, phone)


async def test_storage_stops_growing_beyond_the_window(open_app, phone):
    app = await open_app(forget=[phone], checkpoints=WINDOW)
    await chat(app, phone, range(1, 31))
    rows_30, bytes_30 = await stored(app.conversations.pool, phone)
    await chat(app, phone, range(31, 61))
    rows_60, bytes_60 = await stored(app.conversations.pool, phone)
    assert rows_60 == rows_30  # one checkpoint and the blobs of its channels
    assert bytes_60 <= bytes_30 * 1.05, (bytes_30, bytes_60)
    state = await app.conversations.state(phone)
    assert state["turn"] == 60
    assert len(state["messages"]) <= WINDOW.keep_messages + 4  # the window and the last turn
    assert state["earlier_messages"] + len(state["messages"]) >= 120  # a question and a reply a turn


async def test_a_pending_handoff_survives_pruning_and_resumes(open_app, phone):
    app = await open_app(forget=[phone], checkpoints=WINDOW)
    await chat(app, phone, range(1, 13))
    turn = await app.conversations.handle(phone, "I want to speak to a human please", now=at(13),
                                          turn_key="k:13")
    assert turn.handoff is not None
    await checkpoints.after_turn(app.conversations, phone)
    pruned = await checkpoints.prune_checkpoint_history(
        checkpoints.saver_of(app.conversations), app.conversations.pool, [thread_id(phone)])
    assert pruned == checkpoints.Pruned(threads=1, failed=0)
    async with app.conversations.pool.connection() as conn:
        count = await (await conn.execute("SELECT count(*) AS n FROM checkpoints WHERE thread_id = %s",
                                          (thread_id(phone),))).fetchone()
    assert count["n"] == 1
    assert (await app.conversations.pending_handoff(phone)) == turn.handoff
    held = await app.conversations.handle(phone, "hello?", now=at(14), turn_key="k:14")
    assert held.held and held.replies == []  # still paused for the human
    await app.conversations.resume(phone, {"action": "return_to_bot", "agent": "ana",
                                           "notes": "sorted it out"}, now=at(14))
    await checkpoints.after_turn(app.conversations, phone)
    assert await app.conversations.pending_handoff(phone) is None
    after = await app.conversations.handle(phone, "how long do refunds take?", now=at(15),
                                           turn_key="k:15")
    assert after.replies and after.handoff is None
    assert (await app.conversations.state(phone))["status"] == "automated"


async def test_verification_and_the_order_in_play_outlive_the_window(open_app, phone):
    app = await open_app(forget=[phone], checkpoints=WINDOW)
    await app.conversations.handle(phone, "where is my order HP-10007?", now=at(1), turn_key="k:1")
    verified = await app.conversations.handle(phone, "HP-10007 41JS", now=at(2), turn_key="k:2")
    assert verified.state["verification"]["status"] == "verified"
    await checkpoints.after_turn(app.conversations, phone)
    await chat(app, phone, range(3, 23))
    state = await app.conversations.state(phone)
    assert not any("HP-10007" in m.text for m in state["messages"])  # the exchange is gone
    assert state["earlier_messages"] > 0
    assert state["verification"]["status"] == "verified" and state["customer"]["id"] == "C-1004"
    assert "HP-10007" in state["order_refs"]
    turn = await app.conversations.handle(phone, "what is the status of order HP-10007?", now=at(23),
                                          turn_key="k:23")
    assert prompts.VERIFY_ASK not in turn.replies  # not asked to verify again
    assert any("HP-10007" in r and "track.harborandpine.example" in r for r in turn.replies)


async def test_the_daily_prune_takes_every_thread_with_history(open_app, phone):
    other = phone[:-1] + ("1" if phone[-1] != "1" else "2")
    app = await open_app(forget=[phone, other],
                         checkpoints=CheckpointSettings(keep_messages=10, prune_after_turn=False))
    for number in (phone, other):
        for n in range(1, 4):
            await app.conversations.handle(number, CHAT[n], now=at(n), turn_key=f"k:{n}")
        await checkpoints.after_turn(app.conversations, number)  # off: nothing pruned
        assert (await stored(app.conversations.pool, number))[0] > 3
    assert {thread_id(phone), thread_id(other)} <= set(
        await checkpoints.threads_with_history(app.conversations.pool))
    pruned = await checkpoints.prune_checkpoint_history(
        checkpoints.saver_of(app.conversations), app.conversations.pool)
    assert pruned.threads >= 2 and pruned.failed == 0
    remaining = set(await checkpoints.threads_with_history(app.conversations.pool))
    assert thread_id(phone) not in remaining and thread_id(other) not in remaining
    for number in (phone, other):
        assert (await app.conversations.state(number))["turn"] == 3


async def test_the_worker_prunes_every_nth_committed_turn(start_server, phone):
    server = await start_server(debounce_s=0.05)  # CHECKPOINTS__PRUNE_EVERY_TURNS: 5
    texts = ["hi there", "how long do refunds take?", "do you ship to Ireland?", "thanks",
             "how long do refunds take?"]
    for n, text in enumerate(texts, 1):
        assert (await server.post_meta(text_message(phone, text))).status_code == 200
        done = await server.wait_for("SELECT 1 FROM turns WHERE conversation_key = %s", phone,
                                     count=n, within_s=30)
        assert len(done) == n
        if n == 4:  # not pruned yet: turns 1-4 left their checkpoints
            kept = await server.rows("SELECT 1 FROM checkpoints WHERE thread_id = %s", thread_id(phone))
            assert len(kept) > 1
    # The prune follows the commit that recorded the 5th turn: wait for it to leave one checkpoint.
    pruned = await server.wait_for("SELECT count(*) FROM checkpoints WHERE thread_id = %s"
                                   " HAVING count(*) = 1", thread_id(phone), within_s=10)
    assert pruned, await server.rows("SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s",
                                     thread_id(phone))
    assert (await server.parts.core.conversations.state(phone))["turn"] == 5
