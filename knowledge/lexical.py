"""BM25 over the collection's chunks, in memory: the exact-word half of hybrid retrieval.

Dense embeddings blur product names, prices and rare words ("Klarna", "£29", "Cowes");
BM25 catches them. Per-posting weights are precomputed so a query is a handful of numpy
scatter-adds, fast enough for 100k chunks.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter, defaultdict

import numpy as np

from graph.base.extractive import STOP_WORDS, stem, words


def tokenize(text: str) -> list[str]:
    """Lower-cased, accents and ligatures folded (PDF text), stop words dropped, crudely
    stemmed (the offline brain's own words)."""
    return [stem(w) for w in words(text) if w not in STOP_WORDS]


class BM25:
    """Okapi BM25 (k1, b) over a fixed list of documents."""

    def __init__(self, documents: list[str], k1: float = 1.2, b: float = 0.75):
        self.size = len(documents)
        token_lists = [tokenize(d) for d in documents]
        lengths = np.array([len(t) for t in token_lists], dtype=np.float32)
        average = float(lengths.mean()) if self.size else 1.0
        postings: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for index, tokens in enumerate(token_lists):
            for term, count in Counter(tokens).items():
                postings[term][0].append(index)
                postings[term][1].append(count)
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.idf: dict[str, float] = {}
        for term, (indexes, counts) in postings.items():
            idx = np.array(indexes, dtype=np.int32)
            tf = np.array(counts, dtype=np.float32)
            idf = math.log(1 + (self.size - len(idx) + 0.5) / (len(idx) + 0.5))
            self.idf[term] = idf
            norm = k1 * (1 - b + b * lengths[idx] / average)
            self.postings[term] = (idx, (idf * tf * (k1 + 1) / (tf + norm)).astype(np.float32))
        self._vocabulary = sorted(self.postings)

    def normalise(self, tokens: list[str]) -> list[str]:
        """Query terms, with unknown words mapped to the closest known one (typos: 'refnd')."""
        known = []
        for token in tokens:
            if token in self.postings or len(token) < 4 or token.isdigit():
                known.append(token)
            else:
                known += difflib.get_close_matches(token, self._vocabulary, n=1, cutoff=0.8)
        return known

    def scores(self, query: str) -> np.ndarray:
        """A BM25 score for every document (0 where no query term occurs)."""
        scores = np.zeros(self.size, dtype=np.float32)
        for term in self.normalise(tokenize(query)):
            if term in self.postings:
                idx, weights = self.postings[term]
                scores[idx] += weights
        return scores

    def matched_share(self, query: str) -> np.ndarray:
        """For every document, the share of the query's weight (idf) its words cover. A word no
        document has weighs most, so "who won the football" covers little anywhere, while
        "do you send a prepaid label" is mostly covered by the one leaflet that says "prepaid"."""
        terms = list(dict.fromkeys(tokenize(query)))
        unknown = math.log(1 + (self.size + 0.5) / 0.5)
        total = sum(self.idf.get(t, unknown) for t in terms)
        covered = np.zeros(self.size, dtype=np.float32)
        known = set(self.normalise(terms))
        for term in known:
            if term in self.postings:
                covered[self.postings[term][0]] += self.idf[term]
        return covered / total if total else covered

    def top(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The k best (index, score) pairs with a positive score; `allowed` masks documents."""
        scores = self.scores(query)
        if allowed is not None:
            scores = np.where(allowed, scores, 0)
        k = min(k, self.size)
        if not k:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best])]
        return [(int(i), float(scores[i])) for i in best if scores[i] > 0]
