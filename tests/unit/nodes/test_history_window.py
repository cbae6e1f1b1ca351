from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage, ToolMessage

from graph.state import State
from nodes.history_window import dropped
from nodes.input_guardrail import input_guardrail


def exchange(n: int, *, tool: bool = False) -> list:
    """One customer message and the bot's answer (with a tool call and result before it)."""
    messages: list = [HumanMessage(f"q{n}", id=f"h{n}", additional_kwargs={"guarded": True})]
    if tool:
        messages += [AIMessage("", id=f"c{n}", tool_calls=[{"name": "order_status", "args": {},
                                                             "id": f"t{n}"}]),
                     ToolMessage("shipped", id=f"r{n}", tool_call_id=f"t{n}")]
    return [*messages, AIMessage(f"a{n}", id=f"a{n}")]


def test_nothing_is_dropped_within_the_window():
    messages = exchange(1) + exchange(2)
    assert dropped(messages, keep=4) == [] and dropped(messages, keep=10) == []


def test_old_messages_are_dropped_a_whole_exchange_at_a_time():
    messages = exchange(1) + exchange(2, tool=True) + exchange(3)  # 2 + 4 + 2 messages
    removed = dropped(messages, keep=5)
    assert all(isinstance(r, RemoveMessage) for r in removed)
    # The window would start at the tool result "r2": it starts at the next customer message.
    assert [r.id for r in removed] == ["h1", "a1", "h2", "c2", "r2", "a2"]
    assert [r.id for r in dropped(messages, keep=6)] == ["h1", "a1"]


def test_without_a_customer_message_in_the_window_a_tool_result_still_keeps_its_call():
    calls = exchange(1, tool=True)[:-1] + [AIMessage("x", id="x1"), AIMessage("y", id="y1")]
    # h1 c1 r1 x1 y1, keep 3: no customer message in r1 x1 y1, so cut at x1, never at r1.
    assert [r.id for r in dropped(calls, keep=3)] == ["h1", "c1", "r1"]
    only_tools = [ToolMessage("r", id=f"r{i}", tool_call_id=f"t{i}") for i in range(6)]
    assert dropped(only_tools, keep=4) == []


async def test_the_input_guardrail_drops_what_lies_before_the_window(runtime):
    old = exchange(1) + exchange(2) + exchange(3)
    update = await input_guardrail(State(messages=old, earlier_messages=7),
                                   runtime(["HP-10002 again"], checkpoints={"keep_messages": 4}))
    removed = [m.id for m in update["messages"] if isinstance(m, RemoveMessage)]
    added = [m.content for m in update["messages"] if not isinstance(m, RemoveMessage)]
    assert removed == ["h1", "a1"] and added == ["HP-10002 again"]
    assert update["earlier_messages"] == 9


async def test_a_short_transcript_is_left_alone(runtime):
    update = await input_guardrail(State(messages=exchange(1)), runtime(["hi"]))
    assert not any(isinstance(m, RemoveMessage) for m in update["messages"])
    assert "earlier_messages" not in update
