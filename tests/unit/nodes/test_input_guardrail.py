from langchain_core.messages import HumanMessage
from langgraph.types import Overwrite

from graph.state import State
from nodes.input_guardrail import input_guardrail


async def test_inbound_text_is_stored_redacted_with_flags(runtime):
    update = await input_guardrail(State(), runtime(["email me: a@b.co, HP-10002"]))
    (message,) = update["messages"]
    assert message.content == "email me: [email], HP-10002"
    assert message.additional_kwargs["guarded"] is True
    assert update["flags"] == ["pii:email"] and update["order_refs"] == ["HP-10002"]
    assert update["turn"] == 1 and update["status"] == "new"


async def test_studio_messages_are_redacted_in_place(runtime):
    raw = HumanMessage("my card is 4111 1111 1111 1111", id="m1")
    update = await input_guardrail(State(messages=[raw]), runtime())
    assert update["messages"][0].id == "m1" and "[card]" in update["messages"][0].content


async def test_per_turn_fields_are_reset(runtime):
    update = await input_guardrail(State(agent_steps=4, handoff_reason="x"), runtime(["hi"]))
    assert isinstance(update["passages"], Overwrite) and update["agent_steps"] == 0
    assert update["handoff_reason"] is None


async def test_rate_limit_counts_messages_in_the_window(runtime):
    recent = ["2026-11-22T11:59:30+00:00", "2026-11-22T11:59:40+00:00"]
    update = await input_guardrail(State(recent_message_times=recent), runtime(["x"], rate_limit_messages=2))
    assert "rate_limited" in update["flags"] and update["outbound"].value
    old = ["2026-11-22T11:00:00+00:00"] * 5
    update = await input_guardrail(State(recent_message_times=old), runtime(["x"], rate_limit_messages=2))
    assert "rate_limited" not in update["flags"] and len(update["recent_message_times"]) == 1


async def test_closed_conversation_reopens(runtime):
    update = await input_guardrail(State(status="closed"), runtime(["hello again"]))
    assert update["status"] == "new" and update["transitions"][0]["event"] == "customer_message"


async def test_a_turn_that_will_not_be_answered_says_why(runtime):
    over = ["2026-11-22T11:59:30+00:00"] * 3  # already told about the limit in this window
    update = await input_guardrail(State(recent_message_times=over), runtime(["x"], rate_limit_messages=2))
    assert update["silence"] == "rate_limited" and update["outbound"].value == []
    assert (await input_guardrail(State(status="human"), runtime(["hi"])))["silence"] == "human_owns"
    assert (await input_guardrail(State(), runtime([" "])))["silence"] == "no_text"
    assert (await input_guardrail(State(), runtime(["hi"])))["silence"] is None
