"""Bot-to-human and back through the real server: the desk row, the silence, the hand-back."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from server.desk import actions, reads
from server.desk.desk import Agent, DeskError
from tests.fakes import ScriptedChatModel, reply
from tests.integration.server.conftest import text_message

pytestmark = pytest.mark.integration
SAM = Agent(id="sam-test", name="Sam", role="agent", team="support")
OTHER_TEAM = Agent(id="olga-test", name="Olga", role="agent", team="billing")
TEXTS = "SELECT body FROM outbox WHERE conversation_key = %s AND kind = 'text' ORDER BY id"


def new_phone() -> str:
    return "4476" + str(uuid.uuid4().int)[:8]


@pytest.fixture(autouse=True)
async def agents(database_url):
    """Sam and Olga exist as desk agents (the desk's foreign keys need them)."""
    from graph.base.settings import Settings
    from server.database import open_pool
    from server.migrations import migrate

    pool = await open_pool(Settings(_env_file=None), database_url, max_size=1)
    async with pool.connection() as conn:
        await migrate(conn)
        for agent in (SAM, OTHER_TEAM):
            await conn.execute(
                "INSERT INTO desk_agents (id, name, password_hash, role, team) VALUES (%s, %s, 'x', %s, %s)"
                " ON CONFLICT (id) DO NOTHING", (agent.id, agent.name, agent.role, agent.team))
    await pool.close()


async def _handed_off(server, phone: str) -> dict:
    await server.post_meta(text_message(phone, "I want to talk to a human"))
    rows = await server.wait_for("SELECT * FROM desk_conversations WHERE key = %s"
                                 " AND state = 'PENDING_AGENT'", phone)
    assert rows, "no handoff recorded"
    return rows[0]


async def test_handoff_is_recorded_with_sla_and_the_customer_is_told(start_server):
    server = await start_server()
    phone = new_phone()
    row = await _handed_off(server, phone)
    assert row["reason"] == "customer_request" and row["reference"].startswith("H-")
    assert row["first_response_due_at"] > row["pending_since"]
    ack = await server.wait_for(TEXTS, phone)
    assert row["reference"] in ack[0]["body"]
    events = await server.rows("SELECT actor, kind, to_state FROM desk_events WHERE conversation_key = %s", phone)
    assert {"actor": "bot", "kind": "transition", "to_state": "PENDING_AGENT"} in events


async def test_while_a_human_owns_it_the_bot_is_silent_and_messages_reach_the_console(start_server):
    server = await start_server()
    phone = new_phone()
    await _handed_off(server, phone)
    await server.wait_for(TEXTS, phone)
    await server.post_meta(text_message(phone, "hello? my email is jo@example.com"))
    events = await server.wait_for("SELECT payload FROM desk_events WHERE conversation_key = %s"
                                   " AND kind = 'customer_message'", phone)
    assert events[0]["payload"]["text"] == "hello? my email is [email]"
    await asyncio.sleep(0.5)
    assert len(await server.rows(TEXTS, phone)) == 1  # only the handoff acknowledgement


async def test_agent_reply_and_return_to_bot_resume_the_graph_with_the_exchange(start_server):
    server = await start_server()
    phone, desk = new_phone(), server.parts.desk
    await _handed_off(server, phone)
    with pytest.raises(DeskError):
        await reads.view(desk, OTHER_TEAM, phone)  # another team's agent sees nothing
    await actions.claim(desk, SAM, phone)
    await actions.reply(desk, SAM, phone, text="Hi, Sam here. The sofa is 210 cm wide.")
    texts = await server.wait_for(TEXTS, phone, count=2)
    assert texts[-1]["body"] == "Hi, Sam here. The sofa is 210 cm wide."
    await actions.return_to_bot(desk, SAM, phone, notes="Answered a size question.")
    state = await server.parts.core.conversations.state(phone)
    agent_lines = [m.content for m in state["messages"] if getattr(m, "name", None) == "agent_sam-test"]
    assert agent_lines == ["Hi, Sam here. The sofa is 210 cm wide."]
    assert state["handoff_notes"] == "Answered a size question." and state["status"] == "automated"
    row = (await server.rows("SELECT state, assigned_agent FROM desk_conversations WHERE key = %s", phone))[0]
    assert row == {"state": "BOT", "assigned_agent": None}
    await server.post_meta(text_message(phone, "how long do refunds take?"))
    answers = await server.wait_for(TEXTS, phone, count=3)
    assert "5-7 working days" in answers[-1]["body"]


async def test_a_human_taking_over_mid_turn_discards_the_bot_reply(start_server):
    started, release = asyncio.Event(), asyncio.Event()

    def slow(messages, tools):
        loop.call_soon_threadsafe(started.set)
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(10)
        return reply("This bot reply must never be sent.", confidence=0.9)

    loop = asyncio.get_running_loop()
    server = await start_server(server_options={"agent_model": ScriptedChatModel(steps=[slow])})
    phone, desk = new_phone(), server.parts.desk
    await server.post_meta(text_message(phone, "how long do refunds take?"))
    await asyncio.wait_for(started.wait(), 20)
    # The bot is mid-turn; a human takes the conversation over from the console.
    async with server.parts.pool.connection() as conn:
        await conn.execute("INSERT INTO desk_conversations (key, phone) VALUES (%s, %s)"
                           " ON CONFLICT (key) DO NOTHING", (phone, phone))
    await actions.claim(desk, SAM, phone)
    release.set()
    events = await server.wait_for("SELECT payload FROM desk_events WHERE conversation_key = %s"
                                   " AND kind = 'discarded_bot_reply'", phone)
    assert "never be sent" in events[0]["payload"]["replies"][0]
    await asyncio.sleep(0.5)
    assert await server.rows(TEXTS, phone) == []
    assert await server.parts.core.conversations.pending_handoff(phone) is not None


async def test_lapsed_window_makes_a_bot_conversation_dormant_and_a_new_message_reopens_it(start_server):
    server = await start_server()
    phone = new_phone()
    async with server.parts.pool.connection() as conn:
        await conn.execute("INSERT INTO desk_conversations (key, phone, state, last_customer_at)"
                           " VALUES (%s, %s, 'BOT', now() - interval '25 hours')", (phone, phone))
    await server.parts.turn_worker.sweep()
    row = (await server.rows("SELECT state FROM desk_conversations WHERE key = %s", phone))[0]
    assert row["state"] == "DORMANT"
    await server.post_meta(text_message(phone, "hello"))
    reopened = await server.wait_for("SELECT 1 FROM desk_conversations WHERE key = %s AND state = 'BOT'", phone)
    assert reopened
    moves = await server.rows("SELECT from_state, to_state FROM desk_events WHERE conversation_key = %s"
                              " AND kind = 'transition' ORDER BY id", phone)
    assert moves == [{"from_state": "BOT", "to_state": "DORMANT"}, {"from_state": "DORMANT", "to_state": "BOT"}]
