from langchain_core.messages import HumanMessage

from graph.state import State
from nodes.handoff import handoff
from nodes.respond import render, respond
from tests.fakes import reply, tool_call

PASSAGE = {"id": "refunds#timing", "title": "Refunds", "section": "Timing", "score": 0.8,
           "url": "https://help.harborandpine.example/refunds#timing", "text": "..."}


def test_render_numbers_sources():
    assert render("Five days.", [PASSAGE]) == (
        "Five days.\n\nSources:\n1. Refunds › Timing: https://help.harborandpine.example/refunds#timing")
    assert render("Hi", []) == "Hi"


async def test_respond_replaces_the_reply_call_with_plain_text(runtime):
    call = reply("Five days.", ["refunds#timing"])
    state = State(messages=[HumanMessage("q"), call], reply={"answer": "Five days.", "citations": [],
                  "intent": "other", "handoff": False, "confidence": 0.9}, citations=[PASSAGE])
    update = await respond(state, runtime())
    (message,) = update["messages"]
    assert message.id == call.id and not message.tool_calls
    assert update["outbound"] == [message.content] and update["status"] == "automated"


async def test_respond_without_a_reply_says_nothing_more(runtime):
    said = State(messages=[HumanMessage("hi")], outbound=["Hi! How can I help?"])
    assert await respond(said, runtime()) == {}
    # Nothing said at all (noise, small talk switched off): a deliberate, recorded silence.
    assert await respond(State(messages=[HumanMessage("ok")]), runtime()) == {"silence": "noise"}


async def test_handoff_payload_and_ack(runtime):
    pending = tool_call("order_status", order_id="HP-10003")
    state = State(messages=[HumanMessage("where is it"), pending], intent="complaint", turn=3,
                  order_refs=["HP-10003"], handoff_reason="tool_loop_cap", status="automated",
                  customer={"id": "C-1002", "name": "Ravi Patel", "phone": None, "email": "r@x",
                            "tier": "vip"})
    update = await handoff(state, runtime())
    payload = update["handoff"]
    assert payload["reason"] == "tool_loop_cap" and payload["priority"] == "high"
    assert payload["order_refs"] == ["HP-10003"] and payload["summary"].startswith("Ravi Patel")
    assert payload["reference"] in update["outbound"][0] and update["status"] == "human"
    # the dangling tool call is answered before the acknowledgement
    assert update["messages"][0].tool_call_id == pending.tool_calls[0]["id"]
