"""Which language a customer writes in, offline: English, Spanish, German, French or Portuguese.

Small and deterministic: common function words and greetings score each language, letters
only one of them uses (ñ, ß, ç, ã) add to the score, and the highest wins. A text with no
clue, or a tie, is not guessed: the caller keeps what it knew (the conversation's last
language, else English). Good enough to pick a canned reply's wording; not a translator.
"""

from __future__ import annotations

import re
import unicodedata

LANGUAGES = ("en", "es", "de", "fr", "pt")
"""The languages detected and written in canned replies; English first, the fallback."""


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WORDS: dict[str, frozenset[str]] = {
    "en": _vocabulary(
        "the a an and is are was my your you i it this that of to in on for with what where when "
        "how why can could would do does did not have has still there yes thanks thank please "
        "hello hi hey order help me get want need which one"),
    "es": _vocabulary(
        "el la los las un una y es son mi mis tu su de del en por para con que qué dónde donde "
        "cuándo cuando cómo como por qué puedo quiero necesito tengo está esta estoy sigues sí "
        "gracias hola buenos buenas días pedido ayuda no pero muy también ya todavía eso ese "
        "esa cuánto cuanto tarda hay al lo le me ahí"),
    "de": _vocabulary(
        "der die das ein eine und ist sind mein meine dein ihr sie ich es nicht mit für von zu "
        "auf wo wann wie warum kann können möchte will brauche habe hat noch ja danke bitte "
        "hallo guten tag morgen abend bestellung hilfe aber auch schon was wer den dem des im "
        "ist's gibt mir mich sind"),
    "fr": _vocabulary(
        "le la les un une et est sont mon ma mes ton votre vous je il elle ce cette de du des "
        "en dans pour avec que qui où quand comment pourquoi peux puis voudrais veux besoin ai "
        "a toujours oui merci bonjour bonsoir salut commande aide pas mais aussi déjà est-ce "
        "qu'il c'est j'ai au aux ne"),
    "pt": _vocabulary(
        "o a os as um uma e é são meu minha seu sua você eu ele ela isso de do da dos das em no "
        "na por para com que onde quando como porque posso quero preciso tenho está estou "
        "ainda sim obrigado obrigada olá oi bom dia boa tarde pedido ajuda não mas também já "
        "ao à vocês tudo bem"),
}
_LETTERS = {"es": "ñ¿¡", "de": "äöüß", "fr": "èêëàâîïôûœç", "pt": "ãõç"}
"""Letters that point to one language (ç to two); each found adds one point."""
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)?", re.U)
_ADDRESS = re.compile(r"\S+@\S+|\S+://\S+|www\.\S+", re.I)
"""Emails and links: their parts are no words ("com" is Portuguese for "with")."""


def _words(text: str) -> list[str]:
    text = _ADDRESS.sub(" ", unicodedata.normalize("NFC", text.lower()))
    return [w.replace("’", "'") for w in _WORD.findall(text)]


def scores(text: str) -> dict[str, float]:
    """Points per language for `text`: function words it uses, plus letters only one uses."""
    words = _words(text)
    points = {lang: float(sum(w in vocab for w in words)) for lang, vocab in _WORDS.items()}
    lowered = text.lower()
    for lang, letters in _LETTERS.items():
        points[lang] += sum(1 for c in lowered if c in letters)
    return points


def detect_language(text: str, default: str | None = None) -> str | None:
    """The language `text` is most likely written in (one of LANGUAGES), else `default`.

    Args:
        text: the customer's message(s); short texts ("hola", "danke") are enough.
        default: what to return when the text gives no clue or two languages tie.

    Returns:
        A language code such as "es", or `default`.
    """
    points = scores(text)
    best = max(points.values())
    if best <= 0:
        return default
    leaders = [lang for lang in LANGUAGES if points[lang] == best]
    return leaders[0] if len(leaders) == 1 else default  # a tie is no evidence
