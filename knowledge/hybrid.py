"""Hybrid retrieval: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank.

RRF needs no score calibration between the two rankers, only ranks. Relevance is then
judged on one absolute signal, the dense cosine similarity, which every candidate gets
(lexical-only candidates have theirs computed from their stored embeddings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from knowledge.lexical import BM25
from knowledge.paging import get_all, included

if TYPE_CHECKING:
    import chromadb

    from graph.state import Passage
    from knowledge.base import KnowledgeBase, Mode

RRF_K = 60
"""The usual RRF damping constant: rank 1 and rank 5 differ, but not by orders of magnitude."""
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 1.0
CANDIDATES = 30
"""How deep each ranker looks before fusion."""


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


def _chroma_where(where: dict[str, str]) -> dict | None:
    if len(where) > 1:
        return {"$and": [{key: value} for key, value in where.items()]}
    return dict(where) or None


def fuse(kb: KnowledgeBase, query: str, k: int, mode: Mode, where: dict[str, str]) -> list[Passage]:
    """Top-k passages for `mode`, scored 0-1 (1 = first in every ranking used).

    Chroma is asked only for the nearest ids and distances; texts and metadata come from the
    in-memory snapshot, which saves two round trips per search on the hot path of every turn.
    """
    snapshot = kb.lexical()
    if not snapshot.ids:
        return []
    query_vector = np.asarray(kb.embed([query])[0], dtype=np.float32)
    queries: list[npt.NDArray[np.float32 | np.int32]] = [query_vector]
    rankings: list[tuple[float, list[str]]] = []
    similarity: dict[str, float] = {}
    if mode in ("hybrid", "dense"):
        found = kb.collection.query(query_embeddings=queries, where=_chroma_where(where),
                                    n_results=min(CANDIDATES, len(snapshot.ids)),
                                    include=["distances"])
        ids = found["ids"][0]
        similarity |= {i: 1.0 - float(d) for i, d in zip(ids, included(found["distances"], "distances")[0],
                                                          strict=True)}
        rankings.append((DENSE_WEIGHT, ids))
    if mode in ("hybrid", "lexical"):
        best = snapshot.bm25.top(query, CANDIDATES, snapshot.mask(where))
        rankings.append((LEXICAL_WEIGHT, [snapshot.ids[i] for i, _ in best]))
    fused: dict[str, float] = {}
    for weight, ids in rankings:
        for rank, id_ in enumerate(ids, 1):
            fused[id_] = fused.get(id_, 0.0) + weight / (RRF_K + rank)
    ranked = sorted(fused, key=fused.__getitem__, reverse=True)
    missing = [i for i in ranked[: k * 3] if i not in similarity]
    if missing:
        stored = kb.collection.get(ids=missing, include=["embeddings"])
        vectors = stored["embeddings"]
        if vectors is None:
            raise RuntimeError("Chroma returned no embeddings")
        for id_, vector in zip(stored["ids"], vectors, strict=True):
            similarity[id_] = float(np.dot(np.asarray(vector, dtype=np.float32), query_vector))
    best_possible = sum(weight for weight, _ in rankings) / (RRF_K + 1)
    kept = [i for i in ranked if similarity.get(i, 0.0) >= kb.min_similarity][:k]
    return _passages(kb, snapshot, kept, {i: round(fused[i] / best_possible, 4) for i in kept})


def _passages(kb: KnowledgeBase, snapshot: LexicalSnapshot, ids: list[str],
              scores: dict[str, float]) -> list[Passage]:
    rows: dict[str, tuple[str, Mapping[str, Any]]] = {i: (snapshot.documents[p], snapshot.metadatas[p])
            for i in ids if (p := snapshot.position.get(i)) is not None}
    if len(rows) < len(ids):  # written by another process since the snapshot: ask Chroma
        found = kb.collection.get(ids=[i for i in ids if i not in rows],
                                  include=["documents", "metadatas"])
        documents = included(found["documents"], "documents")
        metadatas = included(found["metadatas"], "metadatas")
        rows |= dict(zip(found["ids"], zip(documents, metadatas, strict=True), strict=True))
    return [{"id": i, "title": rows[i][1]["title"], "section": rows[i][1]["section"],
             "url": rows[i][1]["url"], "text": rows[i][0], "score": scores[i]}
            for i in ids if i in rows]
