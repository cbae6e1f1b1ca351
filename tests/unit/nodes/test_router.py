from langchain_core.messages import AIMessage, HumanMessage

from graph.base.settings import BusinessSettings
from graph.state import State
from nodes import prompts
from nodes.router import router
from tests.fakes import ScriptedChatModel, route


async def test_router_uses_the_router_model_and_counts_usage(runtime):
    model = ScriptedChatModel(steps=[route("billing", confidence=0.66)])
    update = await router(State(messages=[HumanMessage("why two charges")]), runtime(router_model=model))
    assert (update["intent"], update["confidence"], update["needs_agent"]) == ("billing", 0.66, True)
    assert model.calls[0]["tools"] == ["RouteDecision"]
    assert model.calls[0]["messages"][1].content == "why two charges"
    assert update["usage"]["model_calls"] == 1


async def test_greeting_gets_the_canned_reply(runtime):
    model = ScriptedChatModel(steps=[route("other", kind="greeting")])
    update = await router(State(messages=[HumanMessage("hey")]), runtime(router_model=model))
    greeting = prompts.fill(prompts.GREETING_REPLY, BusinessSettings())
    assert update["needs_agent"] is False and update["outbound"] == [greeting]


async def test_off_schema_answer_falls_back_to_rules(runtime):
    model = ScriptedChatModel(steps=[AIMessage("I think it's about shipping")])
    update = await router(State(messages=[HumanMessage("where is my parcel")]),
                          runtime(router_model=model))
    assert update["intent"] == "order_status"
    assert update["fallbacks"] == ["turn 0: router off-schema"]


async def test_failing_router_model_falls_back_to_the_offline_brain(runtime):
    model = ScriptedChatModel(steps=[TimeoutError("slow provider")])
    update = await router(State(messages=[HumanMessage("I want a refund")]),
                          runtime(router_model=model))
    assert update["intent"] == "returns_refunds"
    assert update["fallbacks"] == ["turn 0: TimeoutError"]
