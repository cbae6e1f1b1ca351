"""Consent keywords: a message that is only STOP, START or an equivalent in en/es/de/fr/pt is
one, whatever its case, accents, punctuation and spacing; a sentence using the word is not."""

from __future__ import annotations

import pytest

from nodes import prompts
from nodes.prompts_i18n import VARIANTS, localized
from server.consent.keywords import (
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    Action,
    keyword_of,
    last_keyword,
    normalized,
)

OPT_OUTS = [
    "STOP", "stop", "Stop!", "STOP.", "  stop  ", "¡Stop!", "STOP 🛑", "Unsubscribe", "UNSUBSCRIBE!",
    "stop all", "Opt-out", "opt out",
    "BAJA", "baja.", "Dar de baja", "Parar", "cancelar suscripción", "Cancelar Suscripcion",
    "STOPP", "Stopp!", "Abmelden", "abmelden.",
    "ARRÊT", "arret", "Arrêter", "Désabonner", "se désabonner", "Se désabonner !", "désinscription",
    "PARAR", "Sair", "descadastrar", "Cancelar inscrição", "cancelar assinatura",
]
OPT_INS = [
    "START", "start", "Start.", "UNSTOP", "subscribe", "Opt in",
    "ALTA", "alta!", "Dar de alta", "suscribirme",
    "Anmelden", "starten",
    "DÉMARRER", "demarrer", "S'abonner", "s’abonner",
    "COMEÇAR", "comecar", "Iniciar", "inscrever-me",
]
NOT_KEYWORDS = [
    "stop sending me the wrong size", "please don't stop my order", "Stop it, where is my parcel?",
    "can you stop the delivery", "I want to unsubscribe from the newsletter and get a refund",
    "start my return", "when does the sale start?", "cancel", "CANCELAR", "annuler", "end",
    "quit", "no", "yes", "ok", "stopped", "stopping", "baja calidad", "la talla es muy baja",
    "alta calidad", "parar el pedido por favor", "Ich möchte mich abmelden, aber erst die Rechnung",
    "abbestellen", "arrêt de bus", "sair de casa", "comecar de novo", "", "   ", "!!!",
    "stop " * 30, "HP-10001", "s top", "st op",
]


@pytest.mark.parametrize("text", OPT_OUTS)
def test_opt_out_keywords_are_found(text):
    found = keyword_of(text)
    assert found is not None and found.action is Action.OPT_OUT, text


@pytest.mark.parametrize("text", OPT_INS)
def test_opt_in_keywords_are_found(text):
    found = keyword_of(text)
    assert found is not None and found.action is Action.OPT_IN, text


@pytest.mark.parametrize("text", NOT_KEYWORDS)
def test_sentences_and_other_words_are_not_keywords(text):
    assert keyword_of(text) is None, text


def test_normalized_drops_case_accents_punctuation_and_spacing():
    assert normalized("  ¡BAJA! ") == "baja"
    assert normalized("Se  désabonner...") == "se desabonner"
    assert normalized("S'abonner") == "s abonner"
    assert normalized("COMEÇAR") == "comecar"


def test_a_keyword_used_by_one_language_only_says_its_language():
    assert keyword_of("BAJA").language == "es"
    assert keyword_of("Stopp").language == "de"
    assert keyword_of("désabonner").language == "fr"
    assert keyword_of("sair").language == "pt"
    assert keyword_of("stop").language is None  # English, French, everyone's
    assert keyword_of("parar").language is None  # Spanish and Portuguese
    assert keyword_of("start").language is None  # English and German


def test_every_language_has_both_lists_and_no_word_means_both():
    assert set(OPT_OUT_WORDS) == set(OPT_IN_WORDS) == {"en", "es", "de", "fr", "pt"}
    outs = {w for words in OPT_OUT_WORDS.values() for w in words}
    ins = {w for words in OPT_IN_WORDS.values() for w in words}
    assert not outs & ins
    assert all(normalized(w) == w for w in outs | ins)  # written as the lookup sees them


def test_the_last_keyword_of_a_turn_decides_and_the_rest_is_kept():
    found, rest = last_keyword(["hi", "STOP", "where is my order?", "start"])
    assert found is not None and found.action is Action.OPT_IN
    assert rest == ["hi", "where is my order?"]
    assert last_keyword(["hello there"]) == (None, ["hello there"])


@pytest.mark.parametrize("language", ["en", "es", "de", "fr", "pt"])
def test_each_confirmation_names_the_keyword_that_undoes_it_in_its_language(language):
    """The opt-out confirmation tells the customer a word that opts back in, and the other way
    round, in the same language: the words the confirmations print are keywords."""
    out_text = localized(prompts.OPT_OUT_CONFIRMED, language)
    in_text = localized(prompts.OPT_IN_CONFIRMED, language)
    assert any(keyword_of(w) and keyword_of(w).action is Action.OPT_IN
               for w in out_text.replace(",", " ").split() if w.isupper() and len(w) > 2)
    assert any(keyword_of(w) and keyword_of(w).action is Action.OPT_OUT
               for w in in_text.replace(",", " ").split() if w.isupper() and len(w) > 2)
    assert prompts.FIRST_CONTACT in VARIANTS and "{business}" in localized(prompts.FIRST_CONTACT, language)
