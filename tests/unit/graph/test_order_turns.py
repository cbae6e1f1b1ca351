"""Whole-graph turns about orders (issue 13, point 2): the order named in the message is the
one answered, a customer who names none is asked which, and general questions get the policy
with no order lookup and no request to verify."""

from __future__ import annotations

import uuid

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from graph.base.conversation import conversation_id
from graph.context import Context
from graph.graph import make_graph
from nodes import prompts
from tests.unit.in_memory import InMemoryKnowledge, InMemoryShop, offline_services

AMELIA = "447700900101"  # on file: owns HP-10001 (duvet cover, delivered), HP-10002 (mugs)
STRANGER = "447000000009"
POLICY = [
    {"id": "delivery#saturday", "title": "Delivery days", "section": "Weekends",
     "url": "https://help.harborandpine.example/delivery#saturday", "score": 0.9,
     "text": "Yes, we deliver on Saturdays for standard and express orders, but not on Sundays."},
    {"id": "changing#address", "title": "Changing your order", "section": "Delivery address",
     "url": "https://help.harborandpine.example/changing#address", "score": 0.8,
     "text": "You can change your delivery address until your order is dispatched."},
]
LOOKUPS = ("order", "recent_orders")


@pytest.fixture
def chat():
    """Factory: the next customer turn of one conversation, on a fresh graph and shop."""
    graph, shop, knowledge = make_graph(InMemorySaver()), InMemoryShop(), InMemoryKnowledge(POLICY)
    thread = uuid.uuid4().hex

    async def turn(text: str, phone: str = AMELIA) -> dict:
        context = Context(conversation_id=conversation_id(phone), phone=phone, inbound=[text],
                          now="2026-11-22T12:00:00+00:00", turn_key=uuid.uuid4().hex,
                          services=offline_services(shop, knowledge))
        return await graph.ainvoke({"messages": []}, {"configurable": {"thread_id": thread}},
                                   context=context)

    turn.shop = shop
    return turn


def looked_up(shop: InMemoryShop) -> list[tuple[str, tuple]]:
    return [call for call in shop.calls if call[0] in LOOKUPS]


async def test_the_order_named_in_the_message_is_answered_not_the_last_one_seen(chat):
    # Issue 13's sequence: the third message names HP-10002 again, after HP-10001.
    assert "HP-10002" in (await chat("HP-10002"))["outbound"][0]
    assert "HP-10001" in (await chat("and HP-10001?"))["outbound"][0]
    [text] = (await chat("where is my order HP-10002?"))["outbound"]
    assert "Order HP-10002 (Stoneware mug set)" in text and "HP-10001" not in text
    assert looked_up(chat.shop)[-1] == ("order", ("HP-10002", "C-1"))


async def test_no_order_named_asks_which_and_a_numbered_reply_answers_it(chat):
    [question] = (await chat("Where is my order?"))["outbound"]
    assert question == prompts.ORDER_CHOICE_ASK.format(
        options="1) HP-10002 Stoneware mug set\n2) HP-10001 Linen duvet cover")
    result = await chat("2")
    assert result["intent"] == "order_status" and result["order_refs"] == ["HP-10001"]
    assert result["outbound"] == ["Here's the latest. Order HP-10001 (Linen duvet cover) was delivered."]
    # Now the only order in play: a follow-up without a number is about it.
    assert "HP-10001" in (await chat("has my order arrived?"))["outbound"][0]


@pytest.mark.parametrize("pick, order", [("the mug set", "HP-10002"), ("the second one", "HP-10001"),
                                         ("the duvet", "HP-10001")])
async def test_the_item_or_place_answers_the_question_too(chat, pick, order):
    assert (await chat("where's my parcel?"))["outbound"][0].startswith("Which order do you mean?")
    assert f"Order {order}" in (await chat(pick))["outbound"][0]
    # Picked, it is the one in play: asked again, it is answered without a question.
    assert f"Order {order}" in (await chat("where's my parcel?"))["outbound"][0]


async def test_several_orders_in_play_and_none_named_is_asked_not_guessed(chat):
    await chat("HP-10002")
    await chat("and HP-10001?")
    [text] = (await chat("when will my order arrive?"))["outbound"]
    assert text.startswith("Which order do you mean?")


@pytest.mark.parametrize("phone", [AMELIA, STRANGER])
@pytest.mark.parametrize("question, answer", [
    ("Do you deliver on Saturdays?", "we deliver on Saturdays"),
    ("can I change my delivery address?", "change your delivery address until"),
])
async def test_a_general_question_gets_the_policy_with_no_lookup_and_no_verification(
        chat, phone, question, answer):
    result = await chat(question, phone=phone)
    [text] = result["outbound"]
    assert answer in text and "Sources:" in text
    assert result["intent"] == "order_status" and result["needs_account"] is False
    assert prompts.VERIFY_ASK not in result["outbound"] and looked_up(chat.shop) == []
    status = result.get("verification", {}).get("status", "unverified")
    assert status == ("verified" if phone == AMELIA else "unverified")


async def test_a_stranger_asking_about_their_own_order_is_still_asked_to_verify(chat):
    result = await chat("where is my order?", phone=STRANGER)
    assert result["outbound"] == [prompts.VERIFY_PAUSED]  # no ledger in unit tests: claims refused
    assert result["needs_account"] is True and looked_up(chat.shop) == []
