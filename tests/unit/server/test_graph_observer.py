"""server/graph_observer.py: a graph run's nodes, model and tool calls become nested spans named
by the conversation's ref, and move the model and tool metrics; failures are recorded by class,
never by message."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from opentelemetry.trace import StatusCode
from prometheus_client import REGISTRY

from nodes.brain import OfflineBrain
from server import conversation_ids, tracing
from server.graph_observer import TurnObserver
from tests.fakes import ScriptedChatModel

KEY = "447700900555"
SECRET_TEXT = "my card is 4111 1111 1111 1111"


class S(TypedDict, total=False):
    answer: str


@tool
async def look_up(order: str) -> str:
    """Look an order up."""
    return f"order {order}: shipped"


@tool
async def broken(order: str) -> str:
    """Fail."""
    raise ValueError(SECRET_TEXT)


@pytest.fixture(autouse=True)
def refs(monkeypatch):
    monkeypatch.setattr(conversation_ids, "_pads", conversation_ids.hmac_pads(b"u" * 32))


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def graph_with(model, *, wait_for_human: bool = False):
    async def ask(state: S) -> S:
        return {"answer": str((await model.ainvoke([HumanMessage(SECRET_TEXT)])).content)}

    async def act(state: S) -> S:
        await look_up.ainvoke({"order": "A1"})
        with contextlib.suppress(ValueError):
            await broken.ainvoke({"order": "A2"})
        if wait_for_human:
            interrupt({"reason": "customer_asked"})
        return {}

    builder = StateGraph(S)
    builder.add_node("ask", ask)
    builder.add_node("act", act)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", "act")
    builder.add_edge("act", END)
    return builder.compile()


async def run(graph, spans) -> tuple[TurnObserver, dict]:
    with tracing.span("turn", [KEY]):
        observer = TurnObserver(KEY)
        await graph.ainvoke({}, {"callbacks": [observer]})
    return observer, {s.name: s for s in spans.get_finished_spans()}


async def test_nodes_model_and_tools_are_nested_spans_of_the_turn(spans):
    ok_calls, tool_ok, tool_error = (value("switchboard_model_calls_total", outcome="ok"),
                                     value("switchboard_tool_calls_total", tool="look_up", outcome="ok"),
                                     value("switchboard_tool_calls_total", tool="broken", outcome="error"))
    model = ScriptedChatModel(steps=[AIMessage("hello")])
    observer, by_name = await run(graph_with(model), spans)
    assert {"turn", "graph", "node ask", "node act", "model", "tool look_up", "tool broken"} <= set(by_name)

    def parent(name: str) -> str:
        span = by_name[name]
        assert span.parent is not None, name
        return next(s.name for s in by_name.values() if s.context.span_id == span.parent.span_id)

    assert parent("graph") == "turn"
    assert parent("node ask") == "graph" and parent("node act") == "graph"
    assert parent("model") == "node ask"
    assert parent("tool look_up") == "node act" and parent("tool broken") == "node act"
    assert {s.context.trace_id for s in by_name.values()} == {by_name["turn"].context.trace_id}
    ref = conversation_ids.ref(KEY)
    for span in by_name.values():
        assert span.attributes[tracing.CONVERSATION] == ref
        assert all(SECRET_TEXT not in str(v) and KEY not in str(v) for v in span.attributes.values())
    assert by_name["tool broken"].status.status_code is StatusCode.ERROR
    assert by_name["tool broken"].status.description == "ValueError"  # the class, not the text
    assert value("switchboard_model_calls_total", outcome="ok") == ok_calls + 1
    assert value("switchboard_tool_calls_total", tool="look_up", outcome="ok") == tool_ok + 1
    assert value("switchboard_tool_calls_total", tool="broken", outcome="error") == tool_error + 1
    assert observer.brain == "model"


async def test_a_failing_model_call_is_counted_as_an_error(spans):
    errors = value("switchboard_model_calls_total", outcome="error")
    model = ScriptedChatModel(steps=[ConnectionError(SECRET_TEXT)])
    with pytest.raises(ConnectionError):
        await run(graph_with(model), spans)
    [model_span] = [s for s in spans.get_finished_spans() if s.name == "model"]
    assert model_span.status.description == "ConnectionError"
    assert value("switchboard_model_calls_total", outcome="error") == errors + 1


async def test_the_offline_brain_makes_the_turn_offline_and_is_no_model_call(spans):
    calls = sum(value("switchboard_model_calls_total", outcome=o) for o in ("ok", "error"))
    observer, by_name = await run(graph_with(OfflineBrain()), spans)
    assert by_name["model"].attributes["switchboard.brain"] == "offline"
    assert observer.brain == "offline" and observer.offline_answers == 1
    assert sum(value("switchboard_model_calls_total", outcome=o) for o in ("ok", "error")) == calls


async def test_a_handoff_interrupt_is_no_error(spans):
    from langgraph.checkpoint.memory import InMemorySaver

    graph = graph_with(ScriptedChatModel(steps=[AIMessage("hello")]), wait_for_human=True)
    graph.checkpointer = InMemorySaver()
    with tracing.span("turn", [KEY]):
        await graph.ainvoke({}, {"callbacks": [TurnObserver(KEY)],
                                 "configurable": {"thread_id": "t1"}})
    by_name = {s.name: s for s in spans.get_finished_spans()}
    assert by_name["node act"].status.status_code is not StatusCode.ERROR


async def test_a_model_call_cancelled_by_its_timeout_is_counted_as_a_timeout(spans):
    """LangChain reports nothing for a call cancelled from outside (as `ask_within`'s timeout
    cancels it); it is found when its node ends."""
    timeouts = value("switchboard_model_calls_total", outcome="timeout")
    model = ScriptedChatModel(steps=[lambda messages, tools: time.sleep(0.3) or AIMessage("late")])

    async def ask(state: S) -> S:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(model.ainvoke([HumanMessage("hi")]), 0.05)
        return {}

    builder = StateGraph(S)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    _, by_name = await run(builder.compile(), spans)
    assert by_name["model"].status.description == "CancelledError"
    assert by_name["model"].end_time is not None
    assert value("switchboard_model_calls_total", outcome="timeout") == timeouts + 1
