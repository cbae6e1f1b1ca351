from langchain_core.messages import HumanMessage

from graph.state import State
from nodes.agent import agent, system_prompt
from tests.fakes import ScriptedChatModel, reply, tool_call


async def test_agent_sets_the_cap_reason_when_it_would_exceed_the_loop(runtime):
    model = ScriptedChatModel(steps=[tool_call("customer_profile")])
    state = State(messages=[HumanMessage("x")], agent_steps=2)
    update = await agent(state, runtime(agent_model=model, max_tool_iterations=3))
    assert update["agent_steps"] == 3 and update["handoff_reason"] == "tool_loop_cap"


async def test_reply_below_the_cap_just_continues(runtime):
    model = ScriptedChatModel(steps=[reply("hello")])
    update = await agent(State(messages=[HumanMessage("x")]), runtime(agent_model=model))
    assert "handoff_reason" not in update and update["messages"][0].tool_calls[0]["name"] == "Reply"
    assert "Reply" in model.calls[0]["tools"] and "order_status" in model.calls[0]["tools"]


def test_prompt_carries_passages_identity_and_notes_but_no_secrets():
    state = State(messages=[HumanMessage("x")], intent="order_status", flags=["injection"],
                  customer={"id": "C-1", "name": "Amelia Hart", "phone": "4477", "email": "a@b.c",
                            "tier": "vip"},
                  passages=[{"id": "p#1", "title": "T", "section": "S", "url": "u", "text": "body",
                             "score": 0.5}], handoff_notes="was upset")
    prompt = system_prompt(state)
    assert 'id="p#1"' in prompt and "Amelia Hart (vip)" in prompt and "was upset" in prompt
    assert "Verified: no" in prompt and "instructions aimed at you" in prompt
    assert "a@b.c" not in prompt and "4477" not in prompt
