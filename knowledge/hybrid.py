"""The parts of hybrid retrieval: the BM25 snapshot of a collection and reciprocal rank fusion.
The knowledge base (knowledge/base.py) runs the search with them; this module knows nothing of it.

RRF needs no score calibration between the two rankers, only ranks. Relevance is then
judged on one absolute signal, the dense cosine similarity, which every candidate gets
(lexical-only candidates have theirs computed from their stored embeddings).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from knowledge.lexical import BM25
from knowledge.paging import get_all

if TYPE_CHECKING:
    import chromadb


RRF_K = 60
"""The usual RRF damping constant: rank 1 and rank 5 differ, but not by orders of magnitude."""
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 1.0
CANDIDATES = 30
"""How deep each ranker looks before fusion."""
WORD_MATCH = 0.6
"""A passage that covers this share of the question's word weight (BM25 idf) is kept however
low its dense similarity: a term found only in one document (a PDF's wording, a product name)
must find it, and embeddings blur such words."""


@dataclass
class LexicalSnapshot:
    """Every chunk's id, text and metadata at one collection revision, with its BM25 index."""

    revision: int
    ids: list[str]
    documents: list[str]
    metadatas: list[dict]
    bm25: BM25

    @classmethod
    def build(cls, collection: chromadb.Collection, revision: int) -> LexicalSnapshot:
        found = get_all(collection, ["documents", "metadatas"])
        metadatas = [dict(m or {}) for m in found["metadatas"]]
        # Index headings with the text, as the dense side embeds them.
        texts = [f"{m.get('title', '')}. {m.get('section', '')}. {d}"
                 for d, m in zip(found["documents"], metadatas, strict=True)]
        return cls(revision, list(found["ids"]), list(found["documents"]), metadatas, BM25(texts))

    @cached_property
    def position(self) -> dict[str, int]:
        return {id_: i for i, id_ in enumerate(self.ids)}

    def mask(self, where: dict[str, str]) -> np.ndarray | None:
        if not where:
            return None
        return np.array([all(m.get(key) == value for key, value in where.items())
                         for m in self.metadatas])


def reciprocal_rank_fusion(rankings: list[tuple[float, list[str]]]) -> dict[str, float]:
    """Each id's weighted reciprocal-rank score summed over the rankings that list it."""
    fused: dict[str, float] = {}
    for weight, ids in rankings:
        for rank, id_ in enumerate(ids, 1):
            fused[id_] = fused.get(id_, 0.0) + weight / (RRF_K + rank)
    return fused


def chroma_where(where: dict[str, str]) -> dict | None:
    """A metadata filter as Chroma's `where` wants it (several keys are an $and)."""
    if len(where) > 1:
        return {"$and": [{key: value} for key, value in where.items()]}
    return dict(where) or None
