"""Opt-out and opt-in keywords: STOP, START and their equivalents in en/es/de/fr/pt.

A message is a keyword only when it is nothing but the keyword: case, accents, punctuation,
emoji and spacing aside ("stop", "STOP.", " Stop! ", "Désabonner", "dar de baja"). A sentence
that contains the word is a customer talking ("stop sending me the wrong size", "please don't
stop my order") and goes to the bot as usual.

Left out on purpose, although SMS carriers know some of them: CANCEL/CANCELAR/ANNULER,
ABBESTELLEN, END, QUIT, NO and YES. In a support chat "cancel" alone most often means "cancel my order",
and "yes"/"no" answer the bot's own questions; taking them for consent would lose customers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """What a keyword asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


OPT_OUT_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("stop", "stopall", "stop all", "unsubscribe", "opt out", "optout"),
    "es": ("stop", "baja", "dar de baja", "darme de baja", "parar", "cancelar suscripcion",
           "anular suscripcion", "desuscribir", "desuscribirme"),
    "de": ("stopp", "abmelden", "austragen"),
    "fr": ("stop", "arret", "arreter", "desabonner", "se desabonner", "desabonnement", "desinscrire",
           "me desinscrire", "desinscription"),
    "pt": ("stop", "parar", "sair", "descadastrar", "cancelar inscricao", "cancelar subscricao",
           "cancelar assinatura"),
}
"""Opt-out keywords per language, as `normalized` writes them (lower case, no accents)."""
OPT_IN_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("start", "unstop", "subscribe", "opt in", "optin"),
    "es": ("alta", "dar de alta", "darme de alta", "suscribir", "suscribirme", "empezar"),
    "de": ("start", "starten", "anmelden"),
    "fr": ("demarrer", "abonner", "s abonner", "m abonner"),
    "pt": ("comecar", "iniciar", "inscrever", "inscrever me"),
}
"""Opt-in keywords per language: START and what a customer types for it in each language.
Only an opted-out customer's START changes anything and is confirmed; anyone else's is
recorded and answered by the bot like any message."""


@dataclass(frozen=True)
class Keyword:
    """A consent keyword found in a message: what it asks for, the keyword as normalized,
    and its language when only one language uses it (None for STOP, START, PARAR...)."""

    action: Action
    word: str
    language: str | None


def normalized(text: str) -> str:
    """Lower case, accents off, anything but letters and digits as one space, trimmed:
    "  ¡BAJA! " -> "baja", "S'abonner" -> "s abonner", "Désabonner." -> "desabonner"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.split(r"[^0-9a-zß]+", bare.replace("ß", "ss"))).strip()


def _index() -> dict[str, Keyword]:
    index: dict[str, Keyword] = {}
    for action, table in ((Action.OPT_OUT, OPT_OUT_WORDS), (Action.OPT_IN, OPT_IN_WORDS)):
        for language, words in table.items():
            for word in words:
                languages = {lang for lang, ws in table.items() if word in ws}
                index[word] = Keyword(action, word,
                                      language if len(languages) == 1 else None)
    return index


_KEYWORDS = _index()
_LONGEST = max(len(word) for word in _KEYWORDS)


def keyword_of(text: str) -> Keyword | None:
    """The consent keyword the message is, or None when it is anything else."""
    if len(text) > _LONGEST * 3:  # a message this long is never only a keyword
        return None
    return _KEYWORDS.get(normalized(text))


def last_keyword(texts: list[str]) -> tuple[Keyword | None, list[str]]:
    """The last keyword among a turn's messages (the customer's latest word on consent) and
    the messages that are not keywords, in order."""
    found: Keyword | None = None
    rest = []
    for text in texts:
        if keyword := keyword_of(text):
            found = keyword
        else:
            rest.append(text)
    return found, rest
