"""Model time is bounded: the turn's deadline, the per-call timeout and each model's breaker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.runtime import Runtime
from pydantic import Field

from graph.context import Context
from graph.state import State
from nodes.agent import agent
from nodes.router import router
from tests.fakes import reply, route

Step = Callable[[], Awaitable[AIMessage]]


class AsyncChatModel(BaseChatModel):
    """Each call awaits the next step, as an HTTP client awaits its provider: a step may answer
    late, fail or hang, and cancelling the call cancels it."""

    steps: list[Any] = Field(default_factory=list)
    calls: int = 0
    cancelled: int = 0

    @property
    def _llm_type(self) -> str:
        return "async-scripted"

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any):
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        raise NotImplementedError("async only")

    async def _agenerate(self, messages: list[BaseMessage], stop: Any = None,
                         run_manager: Any = None, **kwargs: Any) -> ChatResult:
        self.calls += 1
        step: Step = self.steps.pop(0)
        try:
            message = await step()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return ChatResult(generations=[ChatGeneration(message=message)])


def after(seconds: float, message: AIMessage) -> Step:
    async def step() -> AIMessage:
        await asyncio.sleep(seconds)
        return message
    return step


def hang() -> Step:
    return after(3600, AIMessage("never"))


def fail() -> Step:
    async def step() -> AIMessage:
        raise ConnectionError("provider down")
    return step


def next_turn(runtime: Runtime) -> Runtime:
    """A new turn (fresh context, so a fresh deadline) on the same process-wide services."""
    return Runtime(context=Context(conversation_id=runtime.context.conversation_id,
                                   phone=runtime.context.phone, services=runtime.context.services))


REFUND = State(messages=[HumanMessage("I want a refund")])


async def timed(call: Awaitable) -> tuple[Any, float]:
    started = time.monotonic()
    result = await call
    return result, time.monotonic() - started


async def test_deadline_cuts_a_slow_model_and_the_brain_answers(runtime):
    model = AsyncChatModel(steps=[after(5, route("billing"))])
    update, elapsed = await timed(router(REFUND, runtime(router_model=model,
                                                         model_guard={"deadline_s": 0.3})))
    assert elapsed < 1 and model.cancelled == 1  # the in-flight request was cancelled
    assert update["intent"] == "returns_refunds"  # the offline brain's rules
    assert update["fallbacks"] == ["turn 0: deadline"]


async def test_spent_deadline_sends_the_rest_of_the_turn_straight_to_the_brain(runtime):
    slow, agent_model = AsyncChatModel(steps=[hang()]), AsyncChatModel(steps=[after(0, reply("x"))])
    turn = runtime(router_model=slow, agent_model=agent_model, model_guard={"deadline_s": 0.2})
    await router(REFUND, turn)
    update, elapsed = await timed(agent(REFUND, turn))
    assert agent_model.calls == 0 and elapsed < 0.1
    assert update["fallbacks"] == ["turn 0: deadline"]
    answer = update["messages"][0].tool_calls[0]
    assert answer["name"] == "Reply" and answer["args"]["handoff"]  # unsure, so it hands off


async def test_per_call_timeout_is_kept_when_it_is_the_smaller_bound(runtime):
    slow, agent_model = AsyncChatModel(steps=[hang()]), AsyncChatModel(steps=[after(0, reply("x"))])
    turn = runtime(router_model=slow, agent_model=agent_model, model_guard={"deadline_s": 5},
                   router={"model": "slow", "timeout_s": 0.2})
    update, elapsed = await timed(router(REFUND, turn))
    assert update["fallbacks"] == ["turn 0: timeout"] and elapsed < 1
    update = await agent(REFUND, turn)  # the turn's deadline is not spent: the agent is asked
    assert agent_model.calls == 1 and "fallbacks" not in update


async def test_failures_open_the_breaker_and_a_trial_call_closes_it(runtime, caplog):
    caplog.set_level(logging.INFO, logger="graph.breaker")
    model = AsyncChatModel(steps=[fail(), fail(), after(0, route("billing"))])
    first = runtime(router_model=model, model_guard={"breaker_failures": 2,
                                                     "breaker_cool_off_s": 0.3})
    services = first.context.services
    reasons = [(await router(REFUND, t))["fallbacks"] for t in (first, next_turn(first))]
    assert reasons == [["turn 0: ConnectionError"]] * 2
    assert services.model_states() == {"router": "open", "agent": "offline"}

    update, elapsed = await timed(router(REFUND, next_turn(first)))
    assert update["fallbacks"] == ["turn 0: breaker_open"] and model.calls == 2 and elapsed < 0.1

    await asyncio.sleep(0.35)
    assert services.model_states()["router"] == "half_open"
    update = await router(REFUND, next_turn(first))  # the trial call
    assert update["intent"] == "billing" and "fallbacks" not in update
    assert services.model_states()["router"] == "closed"
    lines = [r for r in caplog.records if r.name == "graph.breaker"]
    assert [r.getMessage().split(" (")[0].split(":")[0] for r in lines] == [
        "router model breaker open", "router model breaker closed"]
    assert all(r.exc_info is None for r in lines)


async def test_a_failed_trial_opens_the_breaker_again(runtime, caplog):
    model = AsyncChatModel(steps=[fail(), fail()])
    first = runtime(router_model=model, model_guard={"breaker_failures": 1,
                                                     "breaker_cool_off_s": 0.2})
    await router(REFUND, first)
    await asyncio.sleep(0.25)
    update = await router(REFUND, next_turn(first))
    assert update["fallbacks"] == ["turn 0: ConnectionError"] and model.calls == 2
    assert first.context.services.model_states()["router"] == "open"
    opened = [r.getMessage() for r in caplog.records if r.name == "graph.breaker"]
    assert len(opened) == 2 and "(its trial call failed)" in opened[1]


async def test_opening_abandons_the_calls_in_flight(runtime):
    model = AsyncChatModel(steps=[hang(), hang(), hang(), fail(), fail()])
    first = runtime(router_model=model, model_guard={"breaker_failures": 2, "deadline_s": 30})
    waiting = [asyncio.create_task(router(REFUND, next_turn(first))) for _ in range(3)]
    await asyncio.sleep(0.05)  # all three are in flight, hanging
    for _ in range(2):
        await router(REFUND, next_turn(first))
    updates, elapsed = await timed(asyncio.wait_for(asyncio.gather(*waiting), 1))
    assert [u["fallbacks"] for u in updates] == [["turn 0: breaker_open"]] * 3
    assert model.cancelled == 3 and elapsed < 0.2


async def test_the_offline_brain_as_the_model_has_no_breaker_and_no_deadline(runtime):
    turn = runtime(model_guard={"deadline_s": 0.01})
    update = await router(REFUND, turn)
    assert "fallbacks" not in update and turn.context.model_deadline is None
    assert turn.context.services.model_states() == {"router": "offline", "agent": "offline"}
    assert turn.context.services.breakers == {}


async def test_slow_calls_open_the_breaker_before_they_end():
    from graph.breaker import BreakerOpen, CircuitBreaker

    breaker = CircuitBreaker("agent", failures=2, cool_off_s=30, slow_s=0.05)

    async def hang() -> str:
        await asyncio.sleep(5)
        return "too late"
    started = time.monotonic()
    results = await asyncio.gather(breaker.run(hang), breaker.run(hang), return_exceptions=True)
    assert all(isinstance(r, BreakerOpen) for r in results)  # abandoned, not waited out
    assert time.monotonic() - started < 1 and breaker.state == "open"


async def test_a_slow_call_that_answers_is_not_a_failure_twice():
    from graph.breaker import CircuitBreaker

    breaker = CircuitBreaker("router", failures=2, cool_off_s=30, slow_s=0.02)

    async def slow() -> str:
        await asyncio.sleep(0.1)
        return "fine"
    assert await breaker.run(slow) == "fine"
    assert await breaker.run(slow) == "fine"  # counted slow, then answered: the count restarts
    assert breaker.state == "closed"


def test_router_and_agent_on_one_endpoint_share_a_breaker():
    from graph.base.settings import ModelSettings, Settings
    from graph.services import build_services

    same = ModelSettings(model="m", base_url="http://models.example/v1")
    shared = build_services(None, None, Settings(_env_file=None, router=same, agent=same))
    assert shared.breakers["router"] is shared.breakers["agent"]
    other = ModelSettings(model="big", base_url="http://models.example/v1")
    apart = build_services(None, None, Settings(_env_file=None, router=same, agent=other))
    assert apart.breakers["router"] is not apart.breakers["agent"]
