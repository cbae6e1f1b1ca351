"""Every canned reply in the customer's language (issue 13, point 6): the registry of texts a
customer reads, and call sites in nodes and the offline brain that answer in Spanish, German,
French or Portuguese."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from graph.base.conversation import conversation_id
from graph.base.language import LANGUAGES, detect_language
from graph.base.tool_results import ORDER_STATUSES
from graph.context import Context
from graph.graph import make_graph
from graph.state import State
from nodes import prompts
from nodes.agent import system_prompt
from nodes.brain import OfflineBrain
from nodes.brain_replies import reply_after_tool
from nodes.csat_thanks import csat_thanks
from nodes.input_guardrail import input_guardrail
from nodes.intents.patterns import asks_for_human
from nodes.order_choice import Option, offered_options, which_order_question
from nodes.prompts_i18n import CUSTOMER_TEXTS, SAME_AS_ENGLISH, VARIANTS, localized
from nodes.schemas import Reply
from tests.unit.in_memory import InMemoryShop, offline_services
from tools import TOOLS
from tools.orders import describe_order
from tools.verification import Verdict

MODEL_TEXTS = {
    "ROUTER_PROMPT", "AGENT_PROMPT", "TOOL_LINE", "CUSTOMER_CONTEXT", "VERIFIED_BY", "PASSAGE",
    "INJECTION_NOTE", "HANDBACK_NOTE", "HANDBACK_MARK", "REPLY_REJECTED", "REPLY_PROBLEMS",
    "ORDER_CHOICE_OPTION",  # "1) HP-10001 Linen duvet cover": no words to translate
    "MEDIA_NAMES",  # its values are checked one by one below
}
"""Constants of nodes/prompts.py a customer never reads as they are: prompts, notes and
problems for the model, and the language-neutral option line."""
STRANGER, AMELIA = "447000000009", "447700900101"  # Amelia owns HP-10001 and HP-10002


def _fields(text: str) -> list[str]:
    return sorted(re.findall(r"{(\w+)}", text))


def _texts_of_prompts() -> set[str]:
    return {name for name, value in vars(prompts).items()
            if name.isupper() and isinstance(value, str | dict)}


def test_every_constant_of_prompts_is_either_customer_facing_or_for_the_model():
    # A new canned text must be added to CUSTOMER_TEXTS (and translated) or named here.
    assert _texts_of_prompts() == set(CUSTOMER_TEXTS) | MODEL_TEXTS
    assert not set(CUSTOMER_TEXTS) & MODEL_TEXTS


@pytest.mark.parametrize("english", [*(getattr(prompts, name) for name in CUSTOMER_TEXTS),
                                     *set(prompts.MEDIA_NAMES.values()), *ORDER_STATUSES.values()])
def test_every_customer_text_exists_in_all_five_languages_with_the_same_placeholders(english):
    for language in LANGUAGES:
        text = localized(english, language)
        assert text.strip() and _fields(text) == _fields(english)
        if language != "en":
            assert language in VARIANTS.get(english, {}), (english, language)
            assert text != english or (english, language) in SAME_AS_ENGLISH


@pytest.mark.parametrize("text", [prompts.VERIFY_PAUSED, prompts.MEDIA_UNREAD, prompts.VOICE_UNREAD])
def test_every_quoted_word_for_a_person_routes_to_a_person(text):
    for language in LANGUAGES:
        (word,) = re.findall(r'"(\w+)"', localized(text, language))
        assert asks_for_human(word), (language, word)


async def test_unread_media_is_named_in_french(runtime):
    update = await input_guardrail(State(language="fr"), runtime(["[image]", "[document: a.pdf]"]))
    (said,) = update["outbound"].value
    assert said == localized(prompts.MEDIA_UNREAD, "fr").format(what="documents ou photos")


async def test_a_rating_is_thanked_in_the_conversation_language(runtime):
    assert (await csat_thanks(State(language="es"), runtime()))["outbound"] == ["¡Gracias por tu valoración! 🙏"]


async def test_a_business_that_writes_only_english_keeps_canned_texts_english(runtime):
    update = await csat_thanks(State(language="es"), runtime(business={"languages": ["en"]}))
    assert update["outbound"] == [prompts.CSAT_THANKS]


def test_the_offline_brain_is_unsure_in_german():
    state = State(messages=[HumanMessage("Können Sie mir ein Gedicht über Katzen schreiben?")],
                  intent="other")
    brain = OfflineBrain().bind_tools([*TOOLS, Reply])
    final = brain.invoke([SystemMessage(system_prompt(state)), *state.messages]).tool_calls[0]
    assert final["args"]["answer"] == localized(prompts.UNSURE, "de")


def test_the_offline_brain_answers_a_tool_result_in_spanish():
    state = State(messages=[HumanMessage("¿Dónde está mi pedido HP-10009?")], intent="order_status")
    call = {"name": "order_status", "args": {"order_id": "HP-10009"}, "id": "call_1", "type": "tool_call"}
    refused = "Refused: no order HP-10009 on this customer's account. Ask them to check the number."
    final = OfflineBrain().bind_tools([*TOOLS, Reply]).invoke([
        SystemMessage(system_prompt(state)), *state.messages, AIMessage("", tool_calls=[call]),
        ToolMessage(refused, tool_call_id="call_1")]).tool_calls[0]
    assert final["args"]["answer"] == localized(prompts.NOT_ON_ACCOUNT, "es")


def test_an_order_sentence_is_said_again_in_german():
    sentence = describe_order({"id": "HP-10002", "items": ["Stoneware mug set"], "status": "dispatched",
                               "eta": "2026-11-23", "carrier": "DPD",
                               "tracking_url": "https://track.example/HP-10002"})
    assert reply_after_tool("order_status", sentence, "de") == (
        "Hier der aktuelle Stand. Die Bestellung HP-10002 (Stoneware mug set) ist unterwegs, "
        "voraussichtlich am 2026-11-23 mit DPD. Hier verfolgen: https://track.example/HP-10002")
    odd = "Order HP-10002 is somewhere."  # not the tools' shape: passed on as written
    assert reply_after_tool("order_status", odd, "de") == f"Hier der aktuelle Stand. {odd}"


def test_the_which_order_question_is_read_back_in_any_language():
    options = [Option("HP-10001", "Linen duvet cover"), Option("HP-10002", "Stoneware mug set")]
    question = which_order_question(options, "pt")
    assert question.startswith("A que encomenda se refere?\n1) HP-10001 Linen duvet cover")
    assert offered_options([AIMessage(question), HumanMessage("2")]) == options


class NoLockLedger:
    """Stands in for the verification ledger: nobody is locked, every claim fails."""

    async def check_locked(self, customer_id, number, now):
        return None

    async def settle(self, number, attempts, *, now, turn_key, conversation_ref=None, turn=None):
        return Verdict(outcome="failed", failures=1, tries_left=4)


@pytest.fixture
def chat():
    """Factory: the next customer turn of one conversation on the whole graph, with a ledger."""
    graph, shop, thread = make_graph(InMemorySaver()), InMemoryShop(), uuid.uuid4().hex

    async def turn(text: str, phone: str = STRANGER) -> dict:
        services = replace(offline_services(shop), verification=NoLockLedger())
        context = Context(conversation_id=conversation_id(phone), phone=phone, inbound=[text],
                          now="2026-11-22T12:00:00+00:00", turn_key=uuid.uuid4().hex,
                          services=services)
        return await graph.ainvoke({"messages": []}, {"configurable": {"thread_id": thread}},
                                   context=context)
    return turn


async def test_a_spanish_order_question_is_asked_to_verify_in_spanish(chat):
    result = await chat("Hola, ¿dónde está mi pedido?")
    assert result["outbound"] == [localized(prompts.VERIFY_ASK, "es")]
    retry = await chat("HP-10001 9ZZZ")  # an order number alone keeps the conversation's language
    assert retry["outbound"] == [localized(prompts.VERIFY_RETRY, "es").format(left=4)]


async def test_a_portuguese_customer_is_asked_which_order_in_portuguese(chat):
    result = await chat("Olá, onde está a minha encomenda?", phone=AMELIA)
    [question] = result["outbound"]
    assert question.startswith("A que encomenda se refere?\n")
    second = re.search(r"^2\) (HP-\d+)", question, re.M).group(1)
    [answer] = (await chat("2", phone=AMELIA))["outbound"]  # the pick is read back from Portuguese
    assert answer.startswith(f"Aqui está a informação mais recente. A encomenda {second} (")


@pytest.mark.parametrize("text", ["HP-10007 41JS liam.oconnor@example.com", "see https://shop.com.br/x"])
def test_an_email_or_a_link_says_nothing_of_the_language(text):
    assert detect_language(text) is None  # "com" would otherwise count as Portuguese
