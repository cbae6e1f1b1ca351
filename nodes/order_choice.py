"""Which order a turn is about: the one named in the current message; else the option the
customer picked from our last "which order?" question; else the only one in play; else we ask.

The question lists the customer's recent orders, numbered (prompts.ORDER_CHOICE_ASK), and is
read back from the transcript, so the offline brain and a real model see the same thing. A
reply picks an option by its number ("2"), its place ("the second one", "the last one") or a
word of its items ("the throw"). The options also go out as WhatsApp reply buttons or a list
(`question_choices`, nodes/choices.py), titled by order number, so a tap sends back a text
that names the order; the numbered text stays for typing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from graph.base import pii
from graph.state import Choice
from nodes import prompts
from nodes.choices import make_choices
from nodes.prompts_i18n import localized, variants_of

_OPTION = re.compile(r"(?P<number>\d+)\) (?P<ref>HP-\d+)(?: (?P<items>.+))?")
"""A line of prompts.ORDER_CHOICE_OPTION; the items may be missing."""
_NUMBER = re.compile(r"^\W*(?:(?:number|no|option|n[ºo°]|nr|#)\W*)?(\d{1,2})\W*(?:please|pls|thanks?)?\W*$")
_ORDINALS = (
    ("first", "1st", "primer", "primero", "primera", "erste", "ersten", "premier", "premiere", "primeiro", "primeira"),
    ("second", "2nd", "segundo", "segunda", "zweite", "zweiten", "deuxieme", "second"),
    ("third", "3rd", "tercero", "tercera", "tercer", "dritte", "dritten", "troisieme", "terceiro", "terceira"),
    ("fourth", "4th", "cuarto", "cuarta", "vierte", "vierten", "quatrieme", "quarto", "quarta"),
    ("fifth", "5th", "quinto", "quinta", "funfte", "funften", "cinquieme"),
)
_LAST = ("last", "latest", "ultimo", "ultima", "letzte", "letzten", "dernier", "derniere")
_NOT_ITEM_WORDS = frozenset({"the", "and", "for", "with", "one", "order", "set", "pack"})
"""Words of an item's name too common to tell one order from another."""
_SHORT_REPLY = 6
"""Words a reply to the question may have and still be read as a pick."""


@dataclass(frozen=True)
class Option:
    """One order offered in the question: its number and what it holds."""

    ref: str
    items: str


def which_order_question(options: Sequence[Option], language: str = "en") -> str:
    """The question, in `language`, that asks which of `options` the customer means, numbered
    from 1."""
    lines = "\n".join(prompts.ORDER_CHOICE_OPTION.format(number=i, ref=o.ref, items=o.items).strip()
                      for i, o in enumerate(options, 1))
    return localized(prompts.ORDER_CHOICE_ASK, language).format(options=lines)


def question_options(text: str) -> list[Option]:
    """The options listed in `text` when it is our "which order?" question; else none."""
    if not text.startswith(tuple(q.split("{")[0] for q in variants_of(prompts.ORDER_CHOICE_ASK))):
        return []  # the question in any of our languages
    return [Option(m["ref"], m["items"] or "") for line in text.splitlines()
            if (m := _OPTION.fullmatch(line.strip()))]


def question_choices(text: str) -> list[Choice]:
    """Buttons or list rows for the options of our "which order?" question in `text` (none for
    any other text): titled by order number, which the next turn reads as the pick, with the
    items as a list row's description."""
    return make_choices([(o.ref, o.ref, o.items) for o in question_options(text)])


def offered_options(messages: Sequence[BaseMessage]) -> list[Option]:
    """The options of our "which order?" question, when it is the bot's last message before
    the customer's current ones; else none."""
    seen_customer = False
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            seen_customer = True
        elif seen_customer and isinstance(message, AIMessage) and not message.tool_calls:
            return question_options(message.text)
    return []


def picked_option(text: str, options: Sequence[Option]) -> str | None:
    """The order a short reply picks from `options`, by number, place or item word; None when
    it picks none, or more than one."""
    if not options:
        return None
    folded = pii.skeleton(text)
    if number := _NUMBER.match(folded):
        index = int(number.group(1)) - 1
        return options[index].ref if 0 <= index < len(options) else None
    words = set(re.findall(r"\w+", folded))
    if not words or len(folded.split()) > _SHORT_REPLY:
        return None
    places = [i for i, names in enumerate(_ORDINALS) if words & set(names) and i < len(options)]
    places += [len(options) - 1] if words & set(_LAST) else []
    if len(set(places)) == 1:
        return options[places[0]].ref
    by_items = [o.ref for o in options
                if words & set(re.findall(r"\w{3,}", pii.skeleton(o.items))) - _NOT_ITEM_WORDS]
    return by_items[0] if len(by_items) == 1 else None


def order_meant(text: str, refs_in_play: Sequence[str], messages: Sequence[BaseMessage]) -> str | None:
    """The order this turn is about; None when the customer must be asked which.

    Args:
        text: The customer's message(s) this turn.
        refs_in_play: Order numbers mentioned earlier in the conversation.
        messages: The transcript, for an answer to our "which order?" question.
    """
    named = list(dict.fromkeys(ref.upper() for ref in pii.order_refs(text)))
    if len(named) == 1:
        return named[0]
    if named:
        return None  # several named in one message: ask which
    if picked := picked_option(text, offered_options(messages)):
        return picked
    in_play = list(dict.fromkeys(refs_in_play))
    return in_play[0] if len(in_play) == 1 else None
