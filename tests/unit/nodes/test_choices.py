"""Options offered with a reply as WhatsApp buttons or a list: Meta's limits, the "which order?"
question and the offer of a human, whose titles the graph reads back when tapped."""

import pytest
from langchain_core.messages import HumanMessage

from graph.base.language import LANGUAGES
from graph.state import State
from nodes import brain, prompts
from nodes.choices import (
    BUTTON_TITLE_LIMIT,
    MAX_ROWS,
    ROW_DESCRIPTION_LIMIT,
    ROW_TITLE_LIMIT,
    make_choices,
)
from nodes.humility import human_offer
from nodes.input_guardrail import input_guardrail
from nodes.order_choice import Option, order_meant, question_choices, which_order_question
from nodes.output_guardrail import output_guardrail
from nodes.prompts_i18n import localized
from nodes.respond import respond
from tests.fakes import reply

LONG = "An extraordinarily long option title that no button can hold"


def test_up_to_three_options_are_buttons_with_short_titles_and_no_description():
    choices = make_choices([("a", LONG, "what it is"), ("b", "Short", "")])
    assert [len(c["title"]) <= BUTTON_TITLE_LIMIT for c in choices] == [True, True]
    assert choices[0]["title"].endswith("…") and choices[1] == {"id": "b", "title": "Short"}
    assert all("description" not in c for c in choices)


def test_four_to_ten_options_are_list_rows_and_more_are_left_to_the_text():
    choices = make_choices([(str(i), f"{LONG} {i}", LONG * 2) for i in range(12)])
    assert len(choices) == MAX_ROWS
    assert all(len(c["title"]) <= ROW_TITLE_LIMIT for c in choices)
    assert all(len(c["description"]) <= ROW_DESCRIPTION_LIMIT for c in choices)
    assert choices[0]["title"] != choices[0]["description"]


def test_the_order_question_offers_each_order_by_its_number():
    options = [Option("HP-10007", "Ceramic table lamp"), Option("HP-10008", "Cotton throw")]
    choices = question_choices(which_order_question(options))
    assert choices == [{"id": "HP-10007", "title": "HP-10007"}, {"id": "HP-10008", "title": "HP-10008"}]
    assert question_choices("Which way to the shop?") == []
    # Tapping a button sends its title, which names the order.
    assert order_meant(choices[1]["title"], ["HP-10007", "HP-10008"], []) == "HP-10008"


def test_five_orders_become_a_list_with_items_as_descriptions():
    options = [Option(f"HP-1000{i}", f"Item {i}") for i in range(1, 6)]
    choices = question_choices(which_order_question(options))
    assert [c["title"] for c in choices] == [o.ref for o in options]
    assert [c["description"] for c in choices] == [o.items for o in options]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_human_button_fits_and_is_routed_to_a_person_in_every_language(language):
    [button] = human_offer(language)
    assert button["title"] == localized(prompts.HUMAN_BUTTON, language)
    assert len(button["title"]) <= BUTTON_TITLE_LIMIT
    assert brain.classify(button["title"])["intent"] == "human_request"


async def test_the_clarifying_question_comes_with_the_human_button(runtime):
    unsure = reply(prompts.UNSURE, handoff=True, confidence=0.2)
    update = await output_guardrail(State(messages=[HumanMessage("q"), unsure], turn=1), runtime())
    assert update["reply"]["answer"] == prompts.CLARIFY_OFFER
    assert update["choices"] == [{"id": "human", "title": prompts.HUMAN_BUTTON}]
    sure = await output_guardrail(State(messages=[HumanMessage("q"), reply("Five days.")], turn=1),
                                  runtime())
    assert "choices" not in sure
    # Just back from a human (no automatic escalation): the offer is a button too.
    cooling = await output_guardrail(State(messages=[HumanMessage("q"), unsure], turn=1, cooldown=2),
                                     runtime())
    assert cooling["reply"]["answer"] == prompts.COOLDOWN_UNSURE and cooling["choices"]


async def test_respond_offers_the_orders_of_the_question_it_sends(runtime):
    question = which_order_question([Option("HP-10007", "Lamp"), Option("HP-10008", "Throw")])
    state = State(messages=[HumanMessage("where is my order"), reply(question)],
                  reply={"answer": question, "citations": [], "intent": "order_status",
                         "handoff": False, "confidence": 0.9})
    update = await respond(state, runtime())
    assert [c["title"] for c in update["choices"]] == ["HP-10007", "HP-10008"]
    assert "1) HP-10007 Lamp" in update["outbound"][0]  # the text still numbers them


async def test_each_turn_starts_with_no_choices(runtime):
    offered = State(choices=[{"id": "human", "title": prompts.HUMAN_BUTTON}])
    assert (await input_guardrail(offered, runtime(["where is HP-10002"])))["choices"] == []
    assert (await input_guardrail(offered, runtime()))["choices"] == []  # nothing new: silent
