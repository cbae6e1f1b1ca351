"""The labelled utterance set (utterances.txt, shipped with the package) and its split."""

from __future__ import annotations

import random
from functools import cache
from importlib import resources
from typing import Literal, NamedTuple, cast

Label = Literal["order_status", "returns_refunds", "product_question", "billing", "complaint",
                "human_request", "other", "greeting", "thanks"]
"""What the router learns: the graph's intents plus the two kinds of small talk."""
LABELS: tuple[Label, ...] = ("order_status", "returns_refunds", "product_question", "billing",
                             "complaint", "human_request", "other", "greeting", "thanks")
SPLIT_SEED = 13
HOLDOUT = 0.25


class Example(NamedTuple):
    """One labelled customer message."""

    text: str
    label: Label


@cache
def utterances() -> tuple[Example, ...]:
    """Every labelled message of utterances.txt, in file order."""
    text = resources.files("nodes.intents").joinpath("utterances.txt").read_text("utf-8")
    return parse(text)


def parse(text: str) -> tuple[Example, ...]:
    """Examples from the file format: `[label]` starts a section, then one message a line;
    blank lines and lines starting with # are skipped."""
    examples: list[Example] = []
    label: Label | None = None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            if line[1:-1] not in LABELS:
                raise ValueError(f"utterances line {number}: unknown label {line}")
            label = cast(Label, line[1:-1])
        elif label is None:
            raise ValueError(f"utterances line {number}: a message before any [label]")
        else:
            examples.append(Example(line, label))
    return tuple(examples)


def split(examples: tuple[Example, ...], holdout: float = HOLDOUT,
          seed: int = SPLIT_SEED) -> tuple[list[Example], list[Example]]:
    """A stratified (train, held-out) split: `holdout` of each label, the same every run."""
    train: list[Example] = []
    held_out: list[Example] = []
    for label in LABELS:
        group = [e for e in examples if e.label == label]
        random.Random(f"{seed}:{label}").shuffle(group)
        cut = round(len(group) * holdout)
        held_out += group[:cut]
        train += group[cut:]
    return train, held_out
