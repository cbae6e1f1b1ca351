"""Canned replies in the customer's language, and what carries the language through a turn."""

import re

import pytest
from langchain_core.messages import HumanMessage

from graph.base.settings import BusinessSettings
from graph.state import State
from nodes import prompts
from nodes.handoff import handoff
from nodes.input_guardrail import input_guardrail
from nodes.intents.gloss import english_gloss
from nodes.intents.patterns import asks_for_human
from nodes.prompts_i18n import SAME_AS_ENGLISH, VARIANTS, localized, reply_language
from nodes.respond import noted, respond
from nodes.retrieve import retrieve
from nodes.router import router
from tests.fakes import ScriptedChatModel, route

PASSAGE = {"id": "refunds", "title": "Refunds", "section": "How long refunds take", "score": 0.8,
           "url": "https://help.harborandpine.example/refunds", "text": "..."}
ENGLISH_ANSWER = "Once approved, the money reaches your original payment method within 5-7 working days."


def _fields(text: str) -> set[str]:
    return set(re.findall(r"{(\w+)}", text))


@pytest.mark.parametrize("english", list(VARIANTS))
def test_every_variant_keeps_the_placeholders_and_covers_four_languages(english):
    assert set(VARIANTS[english]) == {"es", "de", "fr", "pt"}
    for language, text in VARIANTS[english].items():
        assert _fields(text) == _fields(english)
        assert text != english or (english, language) in SAME_AS_ENGLISH


def test_localized_picks_the_variant_or_keeps_english():
    assert localized(prompts.ENGLISH_NOTE, "es") == "(Respuesta en inglés)"
    assert localized(prompts.ENGLISH_NOTE, "en") == prompts.ENGLISH_NOTE
    assert localized(prompts.ENGLISH_NOTE, None) == prompts.ENGLISH_NOTE
    assert localized("Not a canned text", "de") == "Not a canned text"  # no variant: as it is


def test_reply_language_follows_business_languages():
    assert reply_language("es", ["en", "es"]) == "es"
    assert reply_language("de", ["en", "es"]) == "en"
    assert reply_language("pt", ["pt-BR", "en"]) == "pt"
    assert reply_language("fr", ["nl", "de"]) == "de"  # the first the canned texts are written in
    assert reply_language(None, ["nl"]) == "en"


@pytest.mark.parametrize("answer", ["HUMAN", "HUMANO", "MENSCH", "HUMAIN", "humano", "human please"])
def test_the_word_the_offer_names_routes_to_a_person(answer):
    assert asks_for_human(answer)


@pytest.mark.parametrize("text", [prompts.CLARIFY_OFFER, prompts.INJECTION_REDIRECT])
def test_every_offer_names_a_word_that_routes_to_a_person(text):
    for language in ("en", "es", "de", "fr", "pt"):
        word = re.search(r"\b(HUMAN|HUMANO|MENSCH|HUMAIN)\b", localized(text, language))
        assert word and asks_for_human(word.group(0))


def test_an_english_help_center_answer_to_another_language_gets_a_note():
    assert noted(ENGLISH_ANSWER, [PASSAGE], "es").startswith("(Respuesta en inglés)\n")
    assert noted(ENGLISH_ANSWER, [PASSAGE], "en") == ENGLISH_ANSWER
    assert noted(ENGLISH_ANSWER, [], "es") == ENGLISH_ANSWER  # not from the help center
    spanish = "El dinero llega a tu método de pago en 5-7 días hábiles."
    assert noted(spanish, [PASSAGE], "es") == spanish  # already in the customer's language


async def test_respond_notes_an_english_answer_for_a_german_customer(runtime):
    state = State(messages=[HumanMessage("Wie lange dauert die Rückerstattung?")], language="de",
                  reply={"answer": ENGLISH_ANSWER, "citations": ["refunds"], "intent": "returns_refunds",
                         "handoff": False, "confidence": 0.7}, citations=[PASSAGE])
    update = await respond(state, runtime())
    assert update["outbound"][0].startswith("(Antwort auf Englisch)\n" + ENGLISH_ANSWER)


async def test_the_turn_carries_the_language_detected(runtime):
    update = await input_guardrail(State(), runtime(["Hola, ¿dónde está mi pedido?"]))
    assert update["language"] == "es"
    kept = await input_guardrail(State(language="fr"), runtime(["HP-10002"]))
    assert kept["language"] == "fr"  # an order number says nothing of the language


async def test_a_greeting_is_answered_in_the_customer_language(runtime):
    model = ScriptedChatModel(steps=[route("other", kind="greeting")])
    update = await router(State(messages=[HumanMessage("Guten Tag")], language="de"),
                          runtime(router_model=model))
    assert update["outbound"] == [prompts.fill(localized(prompts.GREETING_REPLY, "de"), BusinessSettings())]


async def test_the_handoff_is_announced_in_the_customer_language(runtime):
    state = State(messages=[HumanMessage("quiero hablar con una persona")], intent="human_request",
                  turn=1, language="es")
    update = await handoff(state, runtime())
    reference = update["handoff"]["reference"]
    assert update["outbound"][0].startswith(f"He pedido a un compañero que se una a este chat (ticket {reference})")


def test_a_foreign_question_is_glossed_with_the_help_center_words():
    assert english_gloss("¿Cuánto tardan los reembolsos?") == "refund refunds how long take"
    assert "refund" in english_gloss("Wie lange dauert die Rückerstattung?")
    assert english_gloss("Quelle est votre politique de retour ?") == "return returns policy"
    assert english_gloss("Hola") == ""


class RecordingKnowledge:
    def __init__(self, found_in: str | None = None):
        self.calls: list[dict] = []
        self.found_in = found_in

    async def search(self, query, k=4, where=None):
        self.calls.append({"query": query, "where": where})
        return [PASSAGE] if where and where.get("locale") == self.found_in else []


async def test_a_foreign_question_searches_its_locale_then_english_with_a_gloss(runtime):
    rt = runtime()
    rt.context.services.knowledge = knowledge = RecordingKnowledge()
    state = State(messages=[HumanMessage("¿Cuánto tardan los reembolsos?")], language="es")
    await retrieve(state, rt)
    assert [c["where"] for c in knowledge.calls] == [{"locale": "es"}, None]
    assert knowledge.calls[1]["query"].endswith("\nrefund refunds how long take")


async def test_a_foreign_question_is_answered_in_its_locale_when_the_help_center_has_it(runtime):
    rt = runtime()
    rt.context.services.knowledge = knowledge = RecordingKnowledge(found_in="es")
    state = State(messages=[HumanMessage("¿Cuánto tardan los reembolsos?")], language="es")
    assert await retrieve(state, rt) == {"passages": [PASSAGE]}
    assert len(knowledge.calls) == 1
