"""`call_model`'s fallback is LangChain's `with_fallbacks`: what it records, what it hands the
offline brain, what it lets through, and how it shows in a trace."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tracers.context import collect_runs

from graph.base.settings import ModelSettings
from graph.breaker import CircuitBreaker
from nodes.common import call_model
from nodes.router import RouteDecision
from tests.fakes import ScriptedChatModel, route, tool_call

CONFIG = ModelSettings(model="scripted", usd_per_million_in=1.0)
ASKED = [HumanMessage("I want a refund")]


async def test_the_brain_answers_with_the_same_tools_and_the_reason_is_recorded():
    model = ScriptedChatModel(steps=[ConnectionError("provider down")])
    brain = ScriptedChatModel(steps=[route("returns_refunds")])
    message, extra = await call_model(model, brain, [RouteDecision], ASKED, CONFIG, 4,
                                      tool_choice="RouteDecision")
    assert message.tool_calls[0]["args"]["intent"] == "returns_refunds"
    assert brain.calls[0]["tools"] == ["RouteDecision"] and brain.calls[0]["messages"] == ASKED
    assert extra["fallbacks"] == ["turn 4: ConnectionError"]
    assert extra["usage"]["model_calls"] == 1


async def test_an_answer_from_the_model_records_no_fallback_and_counts_its_tokens():
    answer = tool_call("RouteDecision", usage=(1000, 0), kind="query", intent="billing",
                       confidence=0.8)
    model = ScriptedChatModel(steps=[answer])
    brain = ScriptedChatModel()
    message, extra = await call_model(model, brain, [RouteDecision], ASKED, CONFIG, 1)
    assert message.tool_calls[0]["args"]["intent"] == "billing" and not brain.calls
    assert "fallbacks" not in extra and extra["usage"]["cost_usd"] == pytest.approx(0.001)


async def test_an_open_breaker_sends_the_call_to_the_brain_without_asking_the_model():
    model = ScriptedChatModel(steps=[ConnectionError("down")], repeat_last=True)
    brain = ScriptedChatModel(steps=[route("other")], repeat_last=True)
    breaker = CircuitBreaker("router", failures=1, cool_off_s=60)
    reasons = [(await call_model(model, brain, [RouteDecision], ASKED, CONFIG, turn,
                                 breaker=breaker, time_left=lambda: 5.0))[1]["fallbacks"]
               for turn in (1, 2)]
    assert reasons == [["turn 1: ConnectionError"], ["turn 2: breaker_open"]]
    assert len(model.calls) == 1 and len(brain.calls) == 2


async def test_a_failing_brain_raises_its_own_error_not_the_models():
    model = ScriptedChatModel(steps=[ConnectionError("provider down")])
    brain = ScriptedChatModel(steps=[ValueError("brain bug")])
    with pytest.raises(ValueError, match="brain bug"):
        await call_model(model, brain, [RouteDecision], ASKED, CONFIG, 1)


async def test_the_brain_as_the_model_raises_its_error_as_it_is():
    brain = ScriptedChatModel(steps=[ValueError("brain bug")])
    with pytest.raises(ValueError, match="brain bug"):
        await call_model(brain, brain, [RouteDecision], ASKED, CONFIG, 1)


async def test_a_model_whose_tools_cannot_be_bound_falls_back():
    class NoTools(ScriptedChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any):
            raise NotImplementedError("no tool calling")

    brain = ScriptedChatModel(steps=[route("other")])
    _, extra = await call_model(NoTools(), brain, [RouteDecision], ASKED, CONFIG, 2)
    assert extra["fallbacks"] == ["turn 2: NotImplementedError"]


async def test_a_trace_shows_the_model_and_the_brain_under_one_fallback_run():
    model = ScriptedChatModel(steps=[ConnectionError("provider down")])
    brain = ScriptedChatModel(steps=[route("other")])
    with collect_runs() as runs:
        await call_model(model, brain, [RouteDecision], ASKED, CONFIG, 1)
    [chain] = runs.traced_runs
    assert chain.name == "RunnableWithFallbacks" and chain.error is None
    children = sorted(chain.child_runs, key=lambda run: run.start_time)
    assert [run.run_type for run in children] == ["llm", "llm"]
    assert "ConnectionError" in (children[0].error or "") and children[1].error is None
