"""A hand-back changes the desk row under its lock and only then, under the conversation's
lease, does a turn worker resume the graph; and while a human owns a conversation no bot text
goes out, not even a failed turn's fallback. On the real server, with the turn worker run by
hand (run_workers=False) so the test decides when a worker holds the lease."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pytest

from nodes import prompts
from server.conversations import Turn
from server.desk import actions
from server.desk.desk import Agent, DeskError
from server.inbound.inbox import StoredMessage
from server.inbound.worker import TurnWorker
from tests.integration.server.conftest import text_message
from tests.integration.server.desk.test_desk_flow import OTHER_TEAM, SAM, agents  # noqa: F401

pytestmark = pytest.mark.integration
ROW = "SELECT state, assigned_agent, handback FROM desk_conversations WHERE key = %s"
TEXTS = "SELECT body FROM outbox WHERE conversation_key = %s AND kind = 'text' ORDER BY id"
SAM_2 = Agent(id="olga-test", name="Olga", role="supervisor", team="support")  # sees every team


def new_phone() -> str:
    return "4477" + str(uuid.uuid4().int)[:8]


async def _turns(worker: TurnWorker) -> None:
    """Run whatever is due, as a worker's loop would (past the debounce)."""
    await worker.run_once(time.time() + 5)


async def _claimed(server, phone: str) -> None:
    """A conversation the bot handed off (its graph paused) and Sam claimed."""
    await server.post_meta(text_message(phone, "I want to talk to a human"))
    rows: list = []
    for _ in range(100):
        await _turns(server.parts.turn_worker)
        if rows := await server.rows(ROW, phone):
            break
        await asyncio.sleep(0.05)
    assert rows and rows[0]["state"] == "PENDING_AGENT"
    await actions.claim(server.parts.desk, SAM, phone)


@pytest.fixture
async def server(start_server):
    server = await start_server(run_workers=False)
    server.parts.desk.handback_wait_s = 0.2  # no worker runs until the test says so
    return server


async def test_the_graph_resumes_only_in_the_workers_turn_under_its_lease(server, monkeypatch):
    phone, desk = new_phone(), server.parts.desk
    conversations = desk.conversations
    await _claimed(server, phone)
    resumed_by: list[str] = []
    resume = conversations.resume

    async def recording_resume(*args, **kwargs):
        task = asyncio.current_task()
        resumed_by.append(task.get_name() if task else "")
        return await resume(*args, **kwargs)

    monkeypatch.setattr(conversations, "resume", recording_resume)
    await actions.return_to_bot(desk, SAM, phone, notes="Answered a size question.")
    # The desk row changed at once; the graph did not: no worker holds the lease yet.
    row = (await server.rows(ROW, phone))[0]
    assert (row["state"], row["assigned_agent"]) == ("BOT", None)
    assert row["handback"]["action"] == "return_to_bot"
    assert resumed_by == [] and await conversations.pending_handoff(phone) is not None

    await _turns(server.parts.turn_worker)  # the worker leases the woken conversation
    assert resumed_by == [f"turn:{phone}"]  # inside the leased turn's task
    state = await conversations.state(phone)
    assert state["status"] == "automated" and state["handoff_notes"] == "Answered a size question."
    assert (await server.rows(ROW, phone))[0]["handback"] is None


async def test_a_hand_back_waits_while_another_worker_holds_the_lease(server):
    phone, desk = new_phone(), server.parts.desk
    await _claimed(server, phone)
    await actions.resolve(desk, SAM, phone)
    rival = await server.parts.scheduler.take(server.parts.turn_worker._fences, 10, time.time() + 5)
    assert [lease.conversation_key for lease in rival.leases] == [phone]
    await _turns(server.parts.turn_worker)  # leased elsewhere: nothing runs here
    assert await desk.conversations.pending_handoff(phone) is not None
    await server.parts.scheduler.leases.finish(rival.leases[0])
    await desk.wake(phone)
    await _turns(server.parts.turn_worker)
    assert await desk.conversations.pending_handoff(phone) is None
    assert (await desk.conversations.state(phone))["status"] == "closed"


@pytest.mark.parametrize("second", ["return_to_bot", "resolve"])
async def test_concurrent_hand_backs_change_the_row_once(server, second):
    phone, desk = new_phone(), server.parts.desk
    await _claimed(server, phone)
    first = actions.return_to_bot(desk, SAM, phone)
    other = (actions.return_to_bot(desk, SAM, phone) if second == "return_to_bot"
             else actions.resolve(desk, SAM, phone))
    outcomes = await asyncio.gather(first, other, return_exceptions=True)
    assert sum(isinstance(o, DeskError) for o in outcomes) == 1
    assert sum(o is None for o in outcomes) == 1
    moves = await server.rows("SELECT reason, to_state FROM desk_events WHERE conversation_key = %s"
                              " AND kind = 'transition' AND actor = %s", phone, f"agent:{SAM.id}")
    handed_back = [m for m in moves if m["reason"] in ("return_to_bot", "resolved")]
    assert len(handed_back) == 1
    row = (await server.rows(ROW, phone))[0]
    assert row["state"] == handed_back[0]["to_state"]
    assert row["handback"]["action"] == handed_back[0]["reason"]


async def test_a_hand_back_cannot_overwrite_a_take_over(server):
    phone, desk = new_phone(), server.parts.desk
    await _claimed(server, phone)
    await actions.take_over(desk, SAM_2, phone)
    with pytest.raises(DeskError):
        await actions.return_to_bot(desk, SAM, phone)  # Sam no longer holds it
    row = (await server.rows(ROW, phone))[0]
    assert (row["state"], row["assigned_agent"], row["handback"]) == ("AGENT", SAM_2.id, None)


async def test_claimed_again_before_the_worker_ran_the_hand_back_lapses(server):
    phone, desk = new_phone(), server.parts.desk
    await _claimed(server, phone)
    await actions.return_to_bot(desk, SAM, phone)
    await actions.claim(desk, SAM, phone)  # back to a human before any worker resumed
    await _turns(server.parts.turn_worker)
    assert await desk.conversations.pending_handoff(phone) is not None  # still paused
    row = (await server.rows(ROW, phone))[0]
    assert (row["state"], row["handback"]) == ("AGENT", None)


def _held(phone: str, turn_key: str) -> list[StoredMessage]:
    return [StoredMessage(id=0, provider="meta", provider_message_id=f"wamid.{uuid.uuid4().hex}",
                          conversation_key=phone, phone=phone, body="are you there? jo@example.com",
                          needs_turn=True, sent_at=datetime.now(UTC), state="in_turn",
                          turn_key=turn_key)]


async def test_no_bot_fallback_goes_out_while_a_human_owns_the_conversation(server):
    """A turn the bot gave up on (its safe fallback, held) while a human owns the conversation:
    the fallback is recorded as discarded, the message reaches the agents."""
    phone, desk = new_phone(), server.parts.desk
    await _claimed(server, phone)
    handoff = await desk.conversations.pending_handoff(phone)
    turn = Turn(replies=[prompts.SAFE_FALLBACK], handoff=handoff, held=True)
    async with server.parts.pool.connection() as conn, conn.transaction():
        allowed = await desk.commit_turn(conn, turn, _held(phone, f"{phone}:1"), key=phone, phone=phone)
    assert allowed is False
    discarded = await server.rows("SELECT payload FROM desk_events WHERE conversation_key = %s"
                                  " AND kind = 'discarded_bot_reply'", phone)
    assert discarded[0]["payload"]["replies"] == [prompts.SAFE_FALLBACK]
    noted = await server.rows("SELECT payload FROM desk_events WHERE conversation_key = %s"
                              " AND kind = 'customer_message'", phone)
    assert [n["payload"]["text"] for n in noted] == ["are you there? [email]"]  # stored once, redacted
    assert (await server.rows(ROW, phone))[0]["state"] == "AGENT"


async def test_a_gave_up_turn_with_no_human_owner_tells_the_customer(server):
    phone, desk = new_phone(), server.parts.desk
    handoff = await desk.conversations.take_over(phone, "turn_failed")
    turn = Turn(replies=[prompts.SAFE_FALLBACK], handoff=handoff, held=True)
    async with server.parts.pool.connection() as conn, conn.transaction():
        allowed = await desk.commit_turn(conn, turn, _held(phone, f"{phone}:1"), key=phone, phone=phone)
    assert allowed is True
    assert (await server.rows(ROW, phone))[0]["state"] == "PENDING_AGENT"
