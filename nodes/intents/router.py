"""The offline router: patterns first, then the learned model, humble when unsure.

`IntentRouter.decide` returns RouteDecision arguments (kind, intent, confidence).
`default_router()` is trained once per process on the whole utterance set, on first use.
"""

from __future__ import annotations

import threading
from typing import Any

from nodes.intents import patterns
from nodes.intents.data import Example, utterances
from nodes.intents.model import IntentModel

MIN_CONFIDENCE = 0.5
"""Below this the model's guess is not acted on: the intent is "other" (the agent decides)."""
MIN_SMALL_TALK_CONFIDENCE = 0.8
MAX_SMALL_TALK_WORDS = 8
"""A guess of greeting or thanks skips the agent, so it must be surer than an intent, and the
message short: a long one surely asks something too."""
MIN_HANDOFF_CONFIDENCE = 0.6
"""A learned human_request hands the customer over; the explicit patterns need no threshold."""
MAX_LEARNED_CONFIDENCE = 0.9
"""The model's softmax saturates; what it reports stays below the patterns' certainty."""
ORDER_REFERENCE_CONFIDENCE = 0.6
UNSURE_CONFIDENCE = 0.4
"""The most an "other" decision claims, so an unsure route reads as unsure downstream."""


class IntentRouter:
    """Routes one message: small talk and explicit asks for a person by pattern, the rest by
    the model trained on `examples`."""

    def __init__(self, examples: list[Example] | tuple[Example, ...]):
        self.model = IntentModel([e.text for e in examples], [e.label for e in examples])

    def decide(self, text: str) -> dict[str, Any]:
        """RouteDecision arguments for one customer message."""
        text = text.strip()
        if kind := patterns.small_talk(text):
            return _decision(kind, "other", 0.9)
        if patterns.asks_for_human(text):
            return _decision("query", "human_request", 0.95)
        if patterns.only_order_reference(text):
            return _decision("query", "order_status", 0.85)
        guess = self.model.predict([text])[0]
        confidence = min(round(guess.confidence, 2), MAX_LEARNED_CONFIDENCE)
        if guess.label in ("greeting", "thanks"):
            if (confidence >= MIN_SMALL_TALK_CONFIDENCE and len(text.split()) <= MAX_SMALL_TALK_WORDS
                    and not patterns.mentions_order(text)):
                return _decision(guess.label, "other", confidence)
        elif guess.label != "other" and confidence >= (
                MIN_HANDOFF_CONFIDENCE if guess.label == "human_request" else MIN_CONFIDENCE):
            return _decision("query", guess.label, confidence)
        if patterns.mentions_order(text):
            # An order number and no clearer intent: the customer is asking about that order.
            return _decision("query", "order_status", ORDER_REFERENCE_CONFIDENCE)
        return _decision("query", "other", min(confidence, UNSURE_CONFIDENCE))


def _decision(kind: str, intent: str, confidence: float) -> dict[str, Any]:
    return {"kind": kind, "intent": intent, "confidence": confidence}


_lock = threading.Lock()
_default: IntentRouter | None = None


def default_router() -> IntentRouter:
    """The production router, trained on every labelled utterance (once per process)."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = IntentRouter(utterances())
    return _default
