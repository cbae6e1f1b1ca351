"""Extractive answering for the offline brain: pick the sentences that answer a question."""

from __future__ import annotations

import re

_STOP = set(["a", "an", "the", "and", "or", "but", "if", "to", "of", "in", "on", "at", "for", "from", "by", "with", "about", "as", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "doing", "have", "has", "had", "i", "me", "my", "we", "our", "you", "your", "it", "its", "this", "that", "these", "those", "what", "which", "who", "whom", "when", "where", "why", "how", "can", "could", "would", "should", "will", "shall", "may", "might", "must", "not", "no", "yes", "so", "than", "too", "very", "just", "get", "got", "im", "i'm", "ive", "i've", "hi", "hello", "please", "thanks", "thank", "there", "here", "any", "some", "all", "am", "up", "out", "over", "into", "also", "only", "still", "much", "many", "more", "most", "one"])
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9£])|\n+")
_MARKUP = re.compile(r"\*\*|__|`|^\s*(?:[-*]|\d+\.)\s+", re.M)


def sentences(text: str) -> list[str]:
    """Plain sentences of a Markdown passage: list items and lines count as sentences."""
    return [s.strip() for s in _SENTENCE.split(_MARKUP.sub("", text)) if len(s.strip()) > 2]


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    # arrive, arrives, arrived -> arriv
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def terms(text: str) -> set[str]:
    """Content words, lower-cased and crudely stemmed."""
    return {_stem(w) for w in re.findall(r"[a-z0-9£]+", text.lower()) if w not in _STOP}


def best_answer(question: str, passages: list[dict], min_overlap: int = 2,
                max_sentences: int = 2) -> tuple[str, list[str]] | None:
    """The best-supported sentences and the passage ids they come from, or None.

    Sentences are scored by the question words they share, with a bonus for the passage's
    section heading matching, so the answer stays inside the right section.
    """
    wanted = terms(question)
    if not wanted:
        return None
    scored: list[tuple[float, int, int, str, str]] = []
    for rank, passage in enumerate(passages):
        heading = terms(f"{passage['title']} {passage['section']}")
        heading_bonus = 0.5 * len(wanted & heading)
        for position, sentence in enumerate(sentences(passage["text"])):
            overlap = len(wanted & terms(sentence))
            if overlap:
                score = overlap + heading_bonus - 0.1 * rank
                scored.append((score, rank, position, sentence.strip(), passage["id"]))
    if not scored:
        return None
    scored.sort(key=lambda s: -s[0])
    top = scored[0]
    if top[0] < min_overlap:
        return None
    # Keep the best sentence and its strongest neighbour from the same passage, in reading order.
    chosen = [top] + [s for s in scored[1:] if s[4] == top[4] and s[0] >= top[0] / 2][: max_sentences - 1]
    chosen.sort(key=lambda s: s[2])
    return " ".join(s[3] for s in chosen), [top[4]]


# Public names for the knowledge base's BM25, so retrieval and answering agree on what a word is.
STOP_WORDS = frozenset(_STOP)
stem = _stem
