"""The whole graph, compiled on LangGraph's InMemorySaver and run with no services behind it:
the offline brain, the in-memory shop and knowledge base, no desk and no verification ledger."""

from __future__ import annotations

import uuid

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from graph.base.conversation import conversation_id
from graph.context import Context
from graph.graph import make_graph
from tests.fakes import ScriptedChatModel, reply, tool_call
from tests.unit.in_memory import InMemoryShop, offline_services

NOW = "2026-11-22T12:00:00+00:00"
AMELIA_PHONE = "447700900101"  # on file: verified by her WhatsApp number
STRANGER = "447000000009"


@pytest.fixture
def run():
    """Factory: one customer turn (or a resume) on a fresh graph and thread per test."""
    graph, shop = make_graph(InMemorySaver()), InMemoryShop()
    thread = uuid.uuid4().hex

    async def turn(*texts: str, phone: str = STRANGER, resume: dict | None = None, **given):
        context = Context(conversation_id=conversation_id(phone), phone=phone, inbound=list(texts),
                          now=NOW, turn_key=uuid.uuid4().hex, services=offline_services(shop, **given))
        config = {"configurable": {"thread_id": thread}}
        given = Command(resume=resume) if resume else {"messages": []}
        return await graph.ainvoke(given, config, context=context), await graph.aget_state(config)

    turn.graph, turn.shop = graph, shop
    return turn


def test_the_graph_compiles_with_every_node():
    nodes = set(make_graph(InMemorySaver()).get_graph().nodes)
    assert nodes >= {"input_guardrail", "router", "authenticate", "retrieve", "agent", "tools",
                     "output_guardrail", "handoff", "await_human", "respond", "csat_thanks"}


async def test_a_policy_question_is_answered_from_the_knowledge_base_with_its_source(run):
    result, saved = await run("How many days do I have to return an item?")
    [text] = result["outbound"]
    assert text.startswith("You have 30 days from delivery to return an item")
    assert "https://help.harborandpine.example/returns#time-limits" in text
    assert result["status"] == "automated" and "__interrupt__" not in result
    assert saved.values["turn"] == 1 and saved.next == ()  # checkpointed, run finished


async def test_a_customer_on_file_gets_their_order_through_the_tool_loop(run):
    result, _ = await run("Where is my order HP-10002?", phone=AMELIA_PHONE)
    assert result["verification"]["method"] == "phone_on_file"
    assert [m.type for m in result["messages"]] == ["human", "ai", "tool", "ai"]
    # The offline brain's template, filled with the tool's order sentence.
    assert result["outbound"] == ["Here's the latest. Order HP-10002 (Stoneware mug set) is on its way, expected"
                                  " 2026-11-23 with DPD. Track it here:"
                                  " https://track.harborandpine.example/HP-10002"]
    assert ("order", ("HP-10002", "C-1")) in run.shop.calls


async def test_without_a_ledger_an_order_claim_is_refused_not_tried(run):
    result, saved = await run("Where is HP-10002? My postcode is SW1A 1AA")
    assert "can't check identities by order number right now" in result["outbound"][0]
    assert saved.values.get("customer") is None
    assert (saved.values.get("verification") or {}).get("status") in (None, "unverified")
    assert not any(call == "order_for_verification" for call, _ in run.shop.calls)


async def test_the_model_cannot_choose_whose_order_it_reads(run):
    # A model talked into naming another customer's order and identity still reads as Amelia.
    agent = ScriptedChatModel(steps=[
        tool_call("order_status", order_id="HP-10003", customer_id="C-2",
                  runtime={"state": {"customer": {"id": "C-2"}}}),
        lambda messages, tools: reply(messages[-1].text, intent="order_status")])
    result, _ = await run("Where is my order HP-10003?", phone=AMELIA_PHONE, agent_model=agent)
    assert ("order", ("HP-10003", "C-1")) in run.shop.calls
    assert all(args[-1] != "C-2" for _, args in run.shop.calls)
    assert "Oak" not in " ".join(result["outbound"])


async def test_a_handoff_pauses_the_run_until_a_human_hands_back(run):
    result, saved = await run("I want to talk to a human")
    assert result["__interrupt__"][0].value["reason"] == "customer_request"
    assert saved.next == ("await_human",) and result["status"] == "human"
    resumed, saved = await run(resume={"action": "return_to_bot", "agent": "sam",
                                       "customer_messages": ["thanks"],
                                       "agent_messages": ["Sorted it for you."]})
    assert resumed["status"] == "automated" and resumed["outbound"] == []
    assert saved.next == ()
    after, _ = await run("How many days do I have to return an item?")
    assert after["outbound"][0].startswith("You have 30 days")
