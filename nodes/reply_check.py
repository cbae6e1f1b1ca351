"""Checking one draft reply: what can be fixed in place, and what makes it unusable.

A draft is the agent's Reply call (or its plain text). Links not allowed, secrets, excess
length, excess citations and an odd confidence are repaired here. Type confusion (`{"answer": 42}`), an empty
answer, a citation that was not retrieved this turn and internal text (nodes/internal_text.py)
are failures: the model is asked again once, then the offline brain stands in
(nodes/reply_repair.py). Model output is never trusted blindly.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass, field
from typing import Literal, get_args

from langchain_core.messages import BaseMessage

from graph.base.links import remove_links
from graph.state import Intent, State
from nodes.checks import scrub_output
from nodes.internal_text import internal_findings

MAX_DRAFT = 4000
"""A draft is cut to this before it is checked (the answer is cut to 900 after): a model
talked into a megabyte of text costs no more to check than a long answer."""
MAX_ANSWER = 900
MAX_CITATIONS = 5

Failure = Literal["answer_not_text", "empty_answer", "bad_citations", "citation_not_retrieved",
                  "bad_handoff", "bad_intent", "internal_text"]


@dataclass
class CheckedDraft:
    """A draft after the checks: the reply as it would be sent, what was repaired in it, and
    what makes it unusable (empty when it may be sent)."""

    reply: dict
    repairs: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    internal: list[str] = field(default_factory=list)
    """Kinds of internal text found (nodes/internal_text.py), for the guardrail events."""


def draft_of(message: BaseMessage, intent: str | None) -> dict:
    """A message's proposed reply: its Reply call, or its plain text with [id] citations."""
    for call in getattr(message, "tool_calls", []):
        if call["name"] == "Reply":
            return dict(call["args"])
    text = message.text if hasattr(message, "text") else str(message.content)
    return {"intent": intent or "other", "answer": text, "confidence": 0.6,
            "citations": re.findall(r"\[([\w-]+(?:#[\w-]+)?)\]", text)}


def check_draft(draft: dict, state: State, allowed_hosts: list[str]) -> CheckedDraft:
    """The draft checked and, where it can be, repaired in one pass."""
    checked = CheckedDraft(reply={})
    answer = draft.get("answer")
    if not isinstance(answer, str):
        checked.failures.append("answer_not_text")
        answer = ""
    answer = _repaired_answer(answer, allowed_hosts, checked)
    if not answer and "answer_not_text" not in checked.failures:
        checked.failures.append("empty_answer")
    checked.internal = list(internal_findings(answer))
    if checked.internal:
        checked.failures.append("internal_text")
    intent = draft.get("intent") or state.intent or "other"
    if intent not in get_args(Intent):
        checked.failures.append("bad_intent")
    checked.reply = {"intent": intent, "answer": answer,
                     "citations": _citations(draft.get("citations"), state, checked),
                     "handoff": _handoff(draft.get("handoff", False), checked),
                     "confidence": _confidence(draft.get("confidence", 0.5), checked)}
    return checked


def _repaired_answer(answer: str, allowed_hosts: list[str], checked: CheckedDraft) -> str:
    answer, dropped = remove_links(answer.strip()[:MAX_DRAFT], allowed_hosts)
    checked.repairs += ["url_not_allowed"] if dropped else []
    answer, leaked = scrub_output(answer)
    checked.repairs += leaked
    if len(answer) > MAX_ANSWER:
        checked.repairs.append("too_long")
        cut = answer[:MAX_ANSWER]
        answer = cut[: cut.rfind(". ") + 1] or cut[:MAX_ANSWER - 3] + "..."
    return answer.strip()


def _citations(citations: object, state: State, checked: CheckedDraft) -> list[str]:
    if not isinstance(citations, list) or not all(isinstance(c, str) for c in citations):
        checked.failures.append("bad_citations")
        return []
    retrieved = {p["id"] for p in state.passages}
    if any(c not in retrieved for c in citations):
        checked.failures.append("citation_not_retrieved")
    kept = list(dict.fromkeys(c for c in citations if c in retrieved))
    if len(kept) > MAX_CITATIONS:
        checked.repairs.append("too_many_citations")
    return kept[:MAX_CITATIONS]


def _handoff(handoff: object, checked: CheckedDraft) -> bool:
    if not isinstance(handoff, bool):
        checked.failures.append("bad_handoff")
        return True
    return handoff


def _confidence(confidence: object, checked: CheckedDraft) -> float:
    """Confidence never reaches the customer: an odd one is repaired to a low value."""
    value = math.nan
    if isinstance(confidence, int | float | str) and not isinstance(confidence, bool):
        with contextlib.suppress(ValueError):
            value = float(confidence)
    if math.isnan(value):
        checked.repairs.append("bad_confidence")
        return 0.3
    return min(1.0, max(0.0, value))
