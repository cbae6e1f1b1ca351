"""CSAT replies on real PostgreSQL and Chroma, through the graph with scripted models: a rating
after a resolve is stored against the agent who resolved, thanked, and never answered as a
question; anything else is answered as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nodes import prompts
from nodes.prompts_i18n import localized
from server.desk import csat
from tests.fakes import ScriptedChatModel, reply, route

pytestmark = pytest.mark.integration


async def _resolved_with_csat(open_app, phone, *, router_steps=(), agent_steps=(),
                              asked_at: datetime | None = None):
    """A conversation a human resolved, whose customer was asked for a rating; the scripted
    models have exactly the given steps after the handoff (none: any call fails the test)."""
    router = ScriptedChatModel(steps=[route("human_request"), *router_steps])
    agent = ScriptedChatModel(steps=list(agent_steps))
    app = await open_app(router_model=router, agent_model=agent, forget=[phone])
    assert (await app.conversations.handle(phone, "I want to talk to a person")).handoff
    await app.conversations.resume(phone, {"action": "resolved", "agent": "alice"})
    async with app.conversations.pool.connection() as conn:
        await csat.ask(conn, phone, "alice", asked_at)
    return app, router, agent


async def _ratings(app, phone) -> list[dict]:
    async with app.conversations.pool.connection() as conn:
        return await (await conn.execute(
            "SELECT agent_id, score, raw_kind, rated_at IS NOT NULL AS rated, closed_at IS NOT NULL"
            " AS closed FROM desk_csat WHERE conversation_key = %s ORDER BY id", (phone,))).fetchall()


@pytest.mark.parametrize("text, score, kind", [
    ("5", 5, "digit"), ("four", 4, "word"), ("⭐⭐⭐⭐", 4, "emoji"), ("😡", 1, "emoji"),
    ("👍", 5, "emoji"), ("3/5 thanks", 3, "digit")])
async def test_a_rating_is_stored_against_the_agent_and_only_thanked(open_app, phone, text, score, kind):
    app, router, agent = await _resolved_with_csat(open_app, phone)
    turn = await app.conversations.handle(phone, text)
    assert turn.replies == [prompts.CSAT_THANKS] and turn.handoff is None
    assert len(router.calls) == 1 and agent.calls == []  # no model was asked about it
    assert await _ratings(app, phone) == [
        {"agent_id": "alice", "score": score, "raw_kind": kind, "rated": True, "closed": False}]
    assert turn.outcome == ("replied", None)


async def test_a_spanish_customer_is_thanked_in_spanish(open_app, phone):
    router = ScriptedChatModel(steps=[route("human_request")])
    app = await open_app(router_model=router, agent_model=ScriptedChatModel(steps=[]), forget=[phone])
    assert (await app.conversations.handle(phone, "Quiero hablar con una persona, por favor")).handoff
    await app.conversations.resume(phone, {"action": "resolved", "agent": "alice"})
    # The language the server's own texts (CSAT prompt, late apology) are written in.
    assert await app.conversations.language(phone) == "es"
    assert await app.conversations.language(phone, "Bonjour, où est ma commande ?") == "fr"
    async with app.conversations.pool.connection() as conn:
        await csat.ask(conn, phone, "alice", None)
    turn = await app.conversations.handle(phone, "5")  # a bare number keeps the language
    assert turn.replies == [localized(prompts.CSAT_THANKS, "es")] and turn.handoff is None


async def test_a_rating_with_a_question_stores_the_rating_and_answers_the_question(open_app, phone):
    app, router, agent = await _resolved_with_csat(
        open_app, phone, router_steps=[route("product_question")],
        agent_steps=[reply("Sorry about the sofa: I've opened a ticket.")])
    turn = await app.conversations.handle(phone, "5 stars but my sofa is still broken")
    assert turn.replies != [prompts.CSAT_THANKS] and len(agent.calls) == 1
    assert "sofa is still broken" in router.calls[-1]["messages"][-1].content
    assert await _ratings(app, phone) == [
        {"agent_id": "alice", "score": 5, "raw_kind": "digit", "rated": True, "closed": True}]


async def test_after_a_question_a_number_is_no_longer_a_rating(open_app, phone):
    app, router, agent = await _resolved_with_csat(
        open_app, phone, router_steps=[route("returns_refunds"), route("other")],
        agent_steps=[reply("Refunds take 5-7 working days."), reply("Sure, number 2 it is.")])
    first = await app.conversations.handle(phone, "how long do refunds take?")
    assert first.replies == ["Refunds take 5-7 working days."]
    second = await app.conversations.handle(phone, "2")
    assert second.replies == ["Sure, number 2 it is."]  # answered as usual, not thanked
    assert await _ratings(app, phone) == [
        {"agent_id": "alice", "score": None, "raw_kind": None, "rated": False, "closed": True}]


async def test_a_rating_is_accepted_for_24_hours(open_app, phone):
    long_ago = datetime.now(UTC) - csat.ACCEPT_FOR - timedelta(minutes=5)
    app, router, agent = await _resolved_with_csat(
        open_app, phone, asked_at=long_ago, router_steps=[route("other")],
        agent_steps=[reply("Could you tell me more?")])
    turn = await app.conversations.handle(phone, "5")
    assert turn.replies == ["Could you tell me more?"]
    assert (await _ratings(app, phone))[0]["score"] is None


async def test_a_later_rating_replaces_the_earlier_and_a_turn_run_again_changes_nothing(open_app, phone):
    app, router, agent = await _resolved_with_csat(open_app, phone)
    await app.conversations.handle(phone, "3", turn_key=f"{phone}:1")
    turn = await app.conversations.handle(phone, "5", turn_key=f"{phone}:2")
    again = await app.conversations.handle(phone, "5", turn_key=f"{phone}:2")  # a crashed turn's re-run
    assert turn.replies == again.replies == [prompts.CSAT_THANKS]
    assert await _ratings(app, phone) == [
        {"agent_id": "alice", "score": 5, "raw_kind": "digit", "rated": True, "closed": False}]
    assert len(router.calls) == 1 and agent.calls == []


async def test_without_a_prompt_a_number_is_just_a_message(open_app, phone):
    agent = ScriptedChatModel(steps=[reply("What would you like to know about 5?")])
    app = await open_app(router_model=ScriptedChatModel(steps=[route("other")]), agent_model=agent,
                         forget=[phone])
    turn = await app.conversations.handle(phone, "5")
    assert turn.replies == ["What would you like to know about 5?"]
    assert await _ratings(app, phone) == []


async def test_forgetting_the_conversation_deletes_its_ratings(open_app, phone):
    app, _, _ = await _resolved_with_csat(open_app, phone)
    await app.conversations.handle(phone, "5")
    await app.conversations.forget(phone)
    assert await _ratings(app, phone) == []
