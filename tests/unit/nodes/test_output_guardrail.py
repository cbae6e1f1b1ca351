from langchain_core.messages import AIMessage, HumanMessage

from graph.state import State
from nodes import prompts
from nodes.output_guardrail import output_guardrail
from tests.fakes import reply

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


async def test_unusable_reply_is_replaced_and_handed_off(runtime):
    update = await output_guardrail(_state(reply("")), runtime())
    assert update["reply"]["answer"] == prompts.SAFE_FALLBACK and update["reply"]["handoff"]
    assert update["handoff_reason"] == "guardrail_failure"
    assert any("replaced" in e for e in update["guardrail_events"])


async def test_plain_text_answer_is_accepted_with_bracket_citations(runtime):
    update = await output_guardrail(_state(AIMessage("Refunds take 5-7 days [refunds].")), runtime())
    assert update["reply"]["citations"] == ["refunds"]


async def test_low_confidence_hands_off_unless_cooling_down(runtime):
    unsure = reply("Maybe?", confidence=0.1)
    assert (await output_guardrail(_state(unsure), runtime()))["handoff_reason"] == "agent_unsure"
    cooled = await output_guardrail(_state(unsure, cooldown=2), runtime())
    assert "handoff_reason" not in cooled and cooled["reply"]["answer"] == prompts.COOLDOWN_UNSURE
