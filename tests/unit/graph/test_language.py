import pytest

from graph.base.language import LANGUAGES, detect_language, scores


@pytest.mark.parametrize("text, language", [
    ("Where is my order?", "en"),
    ("Still there?", "en"),
    ("Yes, that one", "en"),
    ("hola", "es"),
    ("gracias", "es"),
    ("¿Cuánto tardan los reembolsos?", "es"),
    ("Quiero devolver una silla", "es"),
    ("Guten Tag", "de"),
    ("danke", "de"),
    ("Wo ist mein Paket?", "de"),
    ("Wie lange dauert die Rückerstattung?", "de"),
    ("merci", "fr"),
    ("Bonjour, où est ma commande ?", "fr"),
    ("Combien de temps pour un remboursement ?", "fr"),
    ("obrigado", "pt"),
    ("Olá, quanto tempo demora o reembolso?", "pt"),
    ("Tudo bem? Onde está meu pedido?", "pt"),
])
def test_each_language_is_detected_from_short_texts(text, language):
    assert detect_language(text) == language


def test_a_mixed_message_goes_to_the_language_it_mostly_uses():
    assert detect_language("Hello, mi pedido no llega todavía") == "es"
    assert detect_language("Hallo! Where is my order, please?") == "en"


@pytest.mark.parametrize("text", ["ok", "👍", "HP-10002", "qwerty zxcv blorp", ""])
def test_no_clue_keeps_the_default(text):
    assert detect_language(text) is None
    assert detect_language(text, default="fr") == "fr"


def test_a_tie_is_no_evidence():
    tied = "a"  # an article in Spanish, French and Portuguese, and English
    assert max(scores(tied).values()) > 0
    assert detect_language(tied, default="de") == "de"


def test_only_the_five_languages_are_scored():
    assert set(scores("anything")) == set(LANGUAGES) and LANGUAGES[0] == "en"
