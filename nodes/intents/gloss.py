"""English words for what a question in Spanish, German, French or Portuguese asks about.

The help center is written in English and offline retrieval and extractive answering match
words. A question such as "¿Cuánto tardan los reembolsos?" shares none with the Refunds page,
so the concepts it mentions (nodes/intents/concepts.py: "reembols" is the refund concept,
"cuanto tarda" the waiting one) are glossed with the English words the help center uses.
The gloss is added to the question for searching and answering; it is never shown.
"""

from __future__ import annotations

import re

from nodes.intents.concepts import CONCEPTS
from nodes.intents.features import fold

ENGLISH: dict[str, str] = {
    "delivery": "delivery",
    "order": "order",
    "return": "return returns",
    "refund": "refund refunds",
    "exchange": "exchange",
    "warranty": "warranty",
    "payment": "payment pay",
    "invoice": "invoice",
    "discount": "promo code discount",
    "damage": "damaged faulty",
    "store": "store opening hours",
    "waiting": "how long take",
    "cancel": "cancel",
    "address": "address",
    "account": "account",
    "policy": "policy",
}
"""Per concept, the English words its pages use. Concepts that carry no topic (a person,
a grievance, product words) are left out: they would only add noise to a search."""

_EXTRA = {"waiting": ("cuanto tarda", "wie lange", "combien de temps", "quanto tempo", "tardan",
                      "dauert", "demora", "delai"),
          "refund": ("ruckerstatt",),
          "policy": ("politica", "politique", "richtlinie", "bedingungen", "condiciones", "regras")}
"""Phrasings the intent concepts do not hold ("how long", "Rückerstattung" as one word, and
"policy", which is no intent concept)."""

_PATTERNS = {name: re.compile(r"\b(?:" + "|".join(re.escape(s) for s in
                                                 (*CONCEPTS.get(name, ()), *_EXTRA.get(name, ()))) + ")")
             for name in ENGLISH}


def english_gloss(text: str) -> str:
    """The English words for the concepts `text` mentions, space-separated ("" for none).

    Args:
        text: a customer's question in any of the five languages.

    Returns:
        For "¿Cuánto tardan los reembolsos?": "refund refunds how long take".
    """
    folded = fold(text)
    return " ".join(ENGLISH[name] for name, pattern in _PATTERNS.items() if pattern.search(folded))
