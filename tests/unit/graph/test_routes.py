import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from graph import routes
from graph.state import State
from tests.fakes import reply, tool_call

VERIFIED = {"status": "verified", "method": "phone_on_file", "attempts": 0, "locked_until": None}


def test_after_router():
    human = [HumanMessage("x")]
    assert routes.after_router(State(messages=human, needs_agent=False)) == "respond"
    assert routes.after_router(State(messages=human, intent="human_request")) == "handoff"
    assert routes.after_router(State(messages=human, intent="order_status")) == "authenticate"
    assert routes.after_router(State(messages=human, intent="order_status",
                                     verification=VERIFIED)) == "retrieve"
    assert routes.after_router(State(messages=human, intent="returns_refunds")) == "authenticate"
    assert routes.after_router(State(messages=human, intent="returns_refunds",
                                     verification=VERIFIED)) == "retrieve"
    assert routes.after_router(State(messages=human, intent="other", flags=["policy:chargeback"])) == "handoff"
    with pytest.raises(routes.UnroutableState):
        routes.after_router(State(messages=human, intent=None))


def test_after_input_guardrail_is_silent_while_a_human_owns_the_chat():
    human = [HumanMessage("x")]
    assert routes.after_input_guardrail(State(messages=human, silence="human_owns")) == "__end__"
    assert routes.after_input_guardrail(State(messages=human)) == "router"
    assert routes.after_input_guardrail(State(messages=human, flags=["rate_limited"])) == "__end__"
    with pytest.raises(routes.UnroutableState):  # nothing to answer must have been said silent
        routes.after_input_guardrail(State(messages=[AIMessage("hello")]))


def test_after_agent():
    assert routes.after_agent(State(messages=[tool_call("order_status", order_id="HP-1")])) == "tools"
    assert routes.after_agent(State(messages=[reply("done")])) == "output_guardrail"
    assert routes.after_agent(State(messages=[AIMessage("plain")])) == "output_guardrail"
    assert routes.after_agent(State(messages=[reply("x")], handoff_reason="tool_loop_cap")) == "handoff"
    with pytest.raises(routes.UnroutableState):
        routes.after_agent(State(messages=[ToolMessage("x", tool_call_id="1")]))


def test_after_authenticate():
    unverified = {**VERIFIED, "status": "challenged"}
    assert routes.after_authenticate(State(verification=unverified, intent="other")) == "retrieve"
    assert routes.after_authenticate(State(verification=unverified, intent="order_status",
                                           needs_account=True)) == "respond"
    # A policy question the router calls order_status ("do you deliver on Saturdays?").
    assert routes.after_authenticate(State(verification=unverified, intent="order_status")) == "retrieve"
    assert routes.after_authenticate(State(verification=unverified, intent="order_status",
                                           needs_account=True,
                                           flags=["verification_lockout"])) == "handoff"
    with pytest.raises(routes.UnroutableState):
        routes.after_authenticate(State(verification={**VERIFIED, "status": "confused"},
                                        intent="order_status", needs_account=True))
