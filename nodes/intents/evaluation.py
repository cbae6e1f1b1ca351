"""How well the router generalises: train on part of the utterance set, measure the rest.

Used by `switchboard eval router` (server/cli/eval_router.py) and by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nodes.intents.data import HOLDOUT, LABELS, SPLIT_SEED, Example, Label, split, utterances
from nodes.intents.router import IntentRouter

TARGET_ACCURACY = 0.95
TARGET_HANDOFF_RECALL = 0.98
MAX_FALSE_HANDOFF_RATE = 0.005


@dataclass(frozen=True)
class Miss:
    """A held-out message the router got wrong."""

    text: str
    expected: Label
    got: str


@dataclass
class RouterScores:
    """Held-out results: per-label and overall accuracy, and the two handoff rates."""

    trained_on: int
    per_label: dict[str, tuple[int, int]] = field(default_factory=dict)
    """label -> (right, total)"""
    misses: list[Miss] = field(default_factory=list)
    handoff_recall: float = 0.0
    """Share of human_request messages routed to human_request."""
    false_handoff_rate: float = 0.0
    """Share of the other messages routed to human_request."""

    @property
    def accuracy(self) -> float:
        """Share of held-out messages given their label."""
        right = sum(r for r, _ in self.per_label.values())
        total = sum(t for _, t in self.per_label.values())
        return right / total if total else 0.0

    @property
    def failures(self) -> list[str]:
        """The targets missed, in words (empty when all are met)."""
        failed = []
        if self.accuracy < TARGET_ACCURACY:
            failed.append(f"accuracy {self.accuracy:.3f} < {TARGET_ACCURACY}")
        if self.handoff_recall < TARGET_HANDOFF_RECALL:
            failed.append(f"handoff recall {self.handoff_recall:.3f} < {TARGET_HANDOFF_RECALL}")
        if self.false_handoff_rate > MAX_FALSE_HANDOFF_RATE:
            failed.append(f"false handoffs {self.false_handoff_rate:.3%} > {MAX_FALSE_HANDOFF_RATE:.1%}")
        return failed


def routed_label(decision: dict) -> str:
    """The label a decision amounts to: its kind for small talk, else its intent."""
    return decision["kind"] if decision["kind"] in ("greeting", "thanks") else decision["intent"]


def score(router: IntentRouter, examples: list[Example], trained_on: int) -> RouterScores:
    """Route each example and count what came out right."""
    scores = RouterScores(trained_on=trained_on)
    counts = {label: [0, 0] for label in LABELS}
    handoffs = [0, 0]
    false_handoffs = [0, 0]
    for example in examples:
        got = routed_label(router.decide(example.text))
        counts[example.label][1] += 1
        if got == example.label:
            counts[example.label][0] += 1
        else:
            scores.misses.append(Miss(example.text, example.label, got))
        tally = handoffs if example.label == "human_request" else false_handoffs
        tally[1] += 1
        tally[0] += got == "human_request"
    scores.per_label = {label: (r, t) for label, (r, t) in counts.items() if t}
    scores.handoff_recall = handoffs[0] / handoffs[1] if handoffs[1] else 1.0
    scores.false_handoff_rate = false_handoffs[0] / false_handoffs[1] if false_handoffs[1] else 0.0
    return scores


def evaluate(holdout: float = HOLDOUT, seed: int = SPLIT_SEED) -> RouterScores:
    """Train on the utterance set minus a stratified held-out share, and score that share."""
    train, held_out = split(utterances(), holdout, seed)
    return score(IntentRouter(train), held_out, len(train))
