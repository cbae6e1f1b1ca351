"""Humble when unsure: one clarifying question with an offer of a human, then a handoff."""

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from graph.state import State
from nodes import prompts
from nodes.output_guardrail import output_guardrail
from nodes.prompts_i18n import localized
from tests.fakes import reply

VIP = {"id": "C-1002", "name": "Ravi Patel", "phone": None, "email": "r@x", "tier": "vip"}


def _state(last: AIMessage, **fields) -> State:
    return State(messages=[HumanMessage("q"), last], turn=1, **fields)


@pytest.mark.parametrize("unsure", [
    reply(prompts.UNSURE, handoff=True, confidence=0.2),  # the offline brain found nothing
    reply("Maybe the blue one?", confidence=0.1),  # a model guessing
])
async def test_the_first_unsure_turn_asks_and_offers_a_human_instead_of_a_ticket(runtime, unsure):
    update = await output_guardrail(_state(unsure), runtime())
    assert "handoff_reason" not in update
    assert update["reply"]["answer"] == prompts.CLARIFY_OFFER and not update["reply"]["handoff"]
    assert update["clarifications"] == 1 and update["citations"] == []


async def test_the_second_unsure_turn_in_a_row_hands_off(runtime):
    unsure = reply(prompts.UNSURE, handoff=True, confidence=0.2)
    update = await output_guardrail(_state(unsure, clarifications=1), runtime())
    assert update["handoff_reason"] == "agent_unsure" and update["clarifications"] == 0


async def test_a_sure_answer_starts_the_count_again(runtime):
    update = await output_guardrail(_state(reply("Refunds take 5-7 days."), clarifications=1),
                                    runtime())
    assert update["clarifications"] == 0 and "handoff_reason" not in update


async def test_an_injection_gets_a_redirect_not_a_ticket(runtime):
    unsure = reply(prompts.UNSURE, handoff=True, confidence=0.2)
    update = await output_guardrail(_state(unsure, flags=["injection"]), runtime())
    assert update["reply"]["answer"] == prompts.INJECTION_REDIRECT and "handoff_reason" not in update
    again = await output_guardrail(_state(unsure, flags=["injection"], clarifications=1), runtime())
    assert again["handoff_reason"] == "agent_unsure"


async def test_a_vip_and_a_request_for_a_person_still_hand_off_at_once(runtime):
    unsure = reply(prompts.UNSURE, handoff=True, confidence=0.2)
    assert (await output_guardrail(_state(unsure, customer=VIP), runtime()))["handoff_reason"]
    person = reply(prompts.UNSURE, intent="human_request", handoff=True, confidence=0.9)
    assert (await output_guardrail(_state(person), runtime()))["handoff_reason"] == "agent_unsure"


async def test_a_reply_the_guardrail_replaced_still_hands_off(runtime, monkeypatch):
    async def no_better(state, context, services, first):
        return None, {"guardrail_events": []}

    monkeypatch.setattr("nodes.output_guardrail.second_try", no_better)
    update = await output_guardrail(_state(reply("")), runtime())
    assert update["handoff_reason"] == "guardrail_failure"


async def test_repeated_weak_answers_still_hand_off(runtime):
    unsure = reply(prompts.UNSURE, handoff=True, confidence=0.2)
    update = await output_guardrail(_state(unsure, unresolved_turns=2), runtime())
    assert update["handoff_reason"] == "agent_unsure"


@pytest.mark.parametrize("language", ["es", "de", "fr", "pt"])
async def test_the_question_is_asked_in_the_customer_language(runtime, language):
    unsure = reply(prompts.UNSURE, handoff=True, confidence=0.2)
    update = await output_guardrail(_state(unsure, language=language), runtime())
    assert update["reply"]["answer"] == localized(prompts.CLARIFY_OFFER, language)
    assert update["reply"]["answer"] != prompts.CLARIFY_OFFER


async def test_a_business_that_writes_only_english_asks_in_english(runtime):
    unsure = reply(prompts.UNSURE, handoff=True, confidence=0.2)
    update = await output_guardrail(_state(unsure, language="es"),
                                    runtime(business={"languages": ["en"]}))
    assert update["reply"]["answer"] == prompts.CLARIFY_OFFER
