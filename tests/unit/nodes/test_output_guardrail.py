import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from graph.base import tool_results
from graph.state import State
from nodes import prompts
from nodes.output_guardrail import output_guardrail
from tests.fakes import ScriptedChatModel, reply, tool_call

PASSAGE = {"id": "refunds", "title": "Refunds", "section": "Refunds", "score": 0.8,
           "url": "https://help.harborandpine.example/refunds", "text": "..."}


def _state(last: AIMessage, **fields) -> State:
    return State(messages=[HumanMessage("q"), last], passages=[PASSAGE], turn=1, **fields)


async def test_valid_reply_passes_untouched(runtime):
    update = await output_guardrail(_state(reply("Refunds take 5-7 days.", ["refunds"])), runtime())
    assert update["reply"]["citations"] == ["refunds"] and update["guardrail_events"] == []
    assert update["citations"] == [PASSAGE] and "handoff_reason" not in update


async def test_long_reply_is_cut_at_a_sentence(runtime):
    answer = "This sentence is fine. " * 60
    update = await output_guardrail(_state(reply(answer)), runtime())
    assert len(update["reply"]["answer"]) <= 900 and update["reply"]["answer"].endswith(".")
    assert any("too_long" in e for e in update["guardrail_events"])


async def test_foreign_links_and_card_numbers_are_removed(runtime):
    bad = reply("Pay at https://pay.evil.example with card 4111 1111 1111 1111.")
    update = await output_guardrail(_state(bad), runtime())
    assert "evil" not in update["reply"]["answer"] and "4111" not in update["reply"]["answer"]
    events = " ".join(update["guardrail_events"])
    assert "url_not_allowed" in events and "card_number" in events


async def test_more_than_five_citations_are_trimmed(runtime):
    passages = [{**PASSAGE, "id": f"doc-{i}"} for i in range(7)]
    state = State(messages=[HumanMessage("q"), reply("ok", [p["id"] for p in passages])],
                  passages=passages, turn=1)
    update = await output_guardrail(state, runtime())
    assert len(update["reply"]["citations"]) == 5
    assert any("too_many_citations" in e for e in update["guardrail_events"])


def _confused(answer: object = 42, **args) -> AIMessage:
    """A Reply call as a type-confused model makes it."""
    return tool_call("Reply", **{"answer": answer, "citations": [], "intent": "other",
                                 "handoff": False, "confidence": 0.9, **args})


@pytest.mark.parametrize("draft, failure", [
    (_confused(42), "answer_not_text"),
    (_confused({"text": "hi"}), "answer_not_text"),
    (_confused(None), "answer_not_text"),
    (reply(""), "empty_answer"),
    (reply("  \n "), "empty_answer"),
    (reply("Refunds take 5-7 days.", ["made-up#source"]), "citation_not_retrieved"),
    (_confused("Refunds take 5-7 days.", citations="refunds"), "bad_citations"),
    (_confused("Refunds take 5-7 days.", handoff="no"), "bad_handoff"),
    (_confused("Refunds take 5-7 days.", intent="weather"), "bad_intent"),
])
async def test_an_unusable_reply_is_asked_for_again_once_with_the_error(runtime, draft, failure):
    model = ScriptedChatModel(steps=[reply("Refunds take 5-7 days.", ["refunds"])])
    update = await output_guardrail(_state(draft), runtime(agent_model=model))
    assert update["reply"]["answer"] == "Refunds take 5-7 days." and update["reply"]["citations"] == ["refunds"]
    [call] = model.calls
    assert call["tools"] == ["Reply"]  # a repair, not another tool loop
    told = call["messages"][-1]
    assert prompts.REPLY_PROBLEMS[failure] in told.content
    if draft.tool_calls:  # the rejected call is answered, as providers require
        assert isinstance(told, ToolMessage) and told.tool_call_id == draft.tool_calls[0]["id"]
    events = " ".join(update["guardrail_events"])
    assert f"rejected reply ({failure}" in events and "model repaired its reply" in events
    assert "fallbacks" not in update and "handoff_reason" not in update


async def test_a_reply_unusable_twice_falls_back_to_the_offline_brain_and_is_recorded(runtime):
    model = ScriptedChatModel(steps=[_confused(42)], repeat_last=True)
    # Asked to clarify once already: the brain's unsure answer now brings in a human.
    update = await output_guardrail(_state(_confused(42), clarifications=1), runtime(agent_model=model))
    assert len(model.calls) == 1  # asked again once, not in a loop
    assert update["reply"]["answer"] == prompts.UNSURE and update["reply"]["answer"] != "42"
    assert update["fallbacks"] == ["turn 1: unusable reply (answer_not_text)"]
    events = " ".join(update["guardrail_events"])
    assert "rejected reply again (answer_not_text)" in events and "offline brain answered" in events
    assert update["handoff_reason"] == "agent_unsure"


async def test_a_model_that_fails_when_asked_again_is_replaced_by_the_offline_brain(runtime):
    model = ScriptedChatModel(steps=[TimeoutError("slow")])
    state = State(messages=[HumanMessage("how long do refunds take?"), reply("")],
                  passages=[{**PASSAGE, "text": "Refunds take 5-7 working days to reach your card."}],
                  turn=1, intent="returns_refunds")
    update = await output_guardrail(state, runtime(agent_model=model))
    assert "5-7 working days" in update["reply"]["answer"]
    assert update["reply"]["citations"] == ["refunds"] and update["fallbacks"]
    assert any("asking again failed (TimeoutError)" in e for e in update["guardrail_events"])


async def test_the_offline_brain_is_not_asked_the_same_question_twice(runtime):
    """Without a model configured the brain wrote the draft: asking it again would repeat it,
    so an unusable draft goes straight to the brain's clean answer, else the safe text."""
    update = await output_guardrail(_state(reply(""), clarifications=1), runtime())
    assert update["reply"]["answer"] == prompts.UNSURE and update["fallbacks"]


async def test_when_nothing_usable_comes_the_safe_text_goes_and_a_human_is_called(runtime, monkeypatch):
    async def no_better(state, context, services, first):
        return None, {"guardrail_events": ["turn 1: nothing better"]}

    monkeypatch.setattr("nodes.output_guardrail.second_try", no_better)
    update = await output_guardrail(_state(reply("")), runtime())
    assert update["reply"]["answer"] == prompts.SAFE_FALLBACK and update["reply"]["handoff"]
    assert update["handoff_reason"] == "guardrail_failure"
    assert any("replaced" in e for e in update["guardrail_events"])


@pytest.mark.parametrize("tool_text", [
    tool_results.refusal("no order HP-10003 on this customer's account.", tool_results.CHECK_THE_NUMBER),
    tool_results.NOT_VERIFIED,
    "\n".join([tool_results.PROFILE_CUSTOMER.format(name="Amelia Hart", tier="retail"),
               tool_results.PROFILE_ORDERS,
               tool_results.PROFILE_ORDER.format(order="Order HP-10002 is on its way.")]),
])
async def test_a_tool_result_passed_through_never_reaches_the_customer(runtime, tool_text):
    model = ScriptedChatModel(steps=[reply(tool_text)], repeat_last=True)
    update = await output_guardrail(_state(reply(tool_text), clarifications=1), runtime(agent_model=model))
    answer = update["reply"]["answer"]
    assert tool_results.REFUSED not in answer and "retail customer" not in answer
    assert "never discuss" not in answer and answer == prompts.UNSURE  # the brain's own words
    assert any("internal_text" in e for e in update["guardrail_events"])


async def test_plain_text_answer_is_accepted_with_bracket_citations(runtime):
    update = await output_guardrail(_state(AIMessage("Refunds take 5-7 days [refunds].")), runtime())
    assert update["reply"]["citations"] == ["refunds"]


async def test_low_confidence_hands_off_unless_cooling_down(runtime):
    unsure = reply("Maybe?", confidence=0.1)
    asked = await output_guardrail(_state(unsure, clarifications=1), runtime())
    assert asked["handoff_reason"] == "agent_unsure"
    cooled = await output_guardrail(_state(unsure, cooldown=2), runtime())
    assert "handoff_reason" not in cooled and cooled["reply"]["answer"] == prompts.COOLDOWN_UNSURE
