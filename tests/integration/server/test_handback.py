"""After a human hands a conversation back (return or resolve), the bot answers only what the
customer writes next: on real PostgreSQL and Chroma, with scripted models that record what
they were asked."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from graph.base.pii import redact
from nodes.common import turn_text
from server.desk import events
from tests.fakes import ScriptedChatModel, reply, route

pytestmark = pytest.mark.integration

HELD = "also, can I return a lamp I bought in May?"
NEW = "how long do refunds take?"


async def _handed_off(open_app, phone):
    """A conversation the bot handed to a human, with one message held for them meanwhile."""
    router = ScriptedChatModel(steps=[route("human_request"), route("returns_refunds")])
    agent = ScriptedChatModel(steps=[reply("Refunds take 5-7 working days.", intent="returns_refunds")])
    app = await open_app(router_model=router, agent_model=agent, forget=[phone])
    first = await app.conversations.handle(phone, "I want to talk to a person")
    assert first.handoff and first.replies[0].startswith("I've asked a colleague")
    held = await app.conversations.handle(phone, HELD)
    assert held.held and held.replies == []
    await kept_for_the_human(app, phone, HELD)
    return app, router, agent


async def kept_for_the_human(app, phone, text):
    """What the worker's commit does with a held turn's text (Desk.note_customer): one
    'customer_message' desk event, the only place held messages are kept."""
    async with app.conversations.pool.connection() as conn:
        await events.record(conn, phone, "customer", "customer_message",
                            payload={"text": redact(text)[0]})


def _answered_only_the_new_message(router, agent):
    routed = router.calls[-1]["messages"][-1]
    assert isinstance(routed, HumanMessage) and routed.content == NEW  # not HELD as well
    seen = agent.calls[-1]["messages"]
    assert turn_text(seen) == NEW
    mark = seen[-2]  # the model reads where the human handed back
    assert isinstance(mark, AIMessage) and mark.name == "handback" and "answer only what" in mark.text
    assert any(isinstance(m, HumanMessage) and m.content == HELD for m in seen)  # still in context


@pytest.mark.parametrize("action", ["return_to_bot", "resolved"])
async def test_messages_held_for_the_human_are_not_answered_again(open_app, phone, action):
    app, router, agent = await _handed_off(open_app, phone)
    back = await app.conversations.resume(phone, {"action": action, "agent": "sam"})
    assert back.replies == []  # the handoff's "I've asked a colleague" is not said again
    turn = await app.conversations.handle(phone, NEW)
    assert turn.replies == ["Refunds take 5-7 working days."]
    _answered_only_the_new_message(router, agent)


async def test_an_exchange_that_ends_with_the_customer_is_not_answered_either(open_app, phone):
    """The desk passes the exchange in order; the customer's last words there were read by
    the agent who handed back."""
    app, router, agent = await _handed_off(open_app, phone)
    await app.conversations.resume(phone, {"action": "return_to_bot", "agent": "sam", "exchange": [
        {"from": "customer", "text": "hello??"},
        {"from": "agent", "text": "Hi, Sam here. Let me check."},
        {"from": "customer", "text": HELD}]})
    turn = await app.conversations.handle(phone, NEW)
    assert turn.replies == ["Refunds take 5-7 working days."]
    _answered_only_the_new_message(router, agent)
    state = await app.conversations.state(phone)
    # The transcript keeps everything, in order: the held message, then the mark, then the new one.
    texts = [m.text for m in state["messages"]]
    assert texts.index(HELD) < next(i for i, m in enumerate(state["messages"])
                                    if getattr(m, "name", None) == "handback") < texts.index(NEW)
