"""The learned part of the router: a ridge classifier over `features.featurize`.

Ridge regression onto ±1 class targets, solved in closed form in its dual (a few hundred
examples, thousands of features): deterministic, trained in well under a second, and a
prediction is one matrix product. Scores become confidences by a softmax with a fixed
temperature, so a threshold on them means the same thing from one training set to the next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nodes.intents.features import featurize

RIDGE = 0.3
"""L2 penalty: larger trusts the examples less and generalises more."""
TEMPERATURE = 6.0
"""Softmax sharpness applied to ridge scores (which sit roughly in [-1, 1])."""


@dataclass(frozen=True)
class Prediction:
    """The model's best label for a text and how sure it is (0-1)."""

    label: str
    confidence: float


class IntentModel:
    """A ridge classifier trained on labelled texts; `predict` gives one label per text."""

    def __init__(self, texts: list[str], labels: list[str], ridge: float | None = None):
        ridge = RIDGE if ridge is None else ridge
        self.labels = sorted(set(labels))
        index = {label: i for i, label in enumerate(self.labels)}
        features = featurize(texts)
        targets = np.full((len(texts), len(self.labels)), -1.0, dtype=np.float32)
        targets[np.arange(len(texts)), [index[label] for label in labels]] = 1.0
        gram = features @ features.T
        dual = np.linalg.solve(gram + ridge * np.eye(len(texts), dtype=np.float32), targets)
        self.weights = (features.T @ dual).astype(np.float32)

    def predict(self, texts: list[str]) -> list[Prediction]:
        """The most likely label of each text with its softmax confidence."""
        scores = featurize(texts) @ self.weights
        scaled = TEMPERATURE * (scores - scores.max(axis=1, keepdims=True))
        probabilities = np.exp(scaled) / np.exp(scaled).sum(axis=1, keepdims=True)
        best = probabilities.argmax(axis=1)
        return [Prediction(self.labels[b], float(p[b])) for b, p in zip(best, probabilities, strict=True)]
