"""Retrieval evaluation: recall@1, recall@5 and MRR over labelled questions.

A question counts as answered at rank r when the r-th retrieved chunk belongs to one of its
expected documents (the chunk id's stem). The eval builds its own in-memory collection from
the bundled sample, so the figures do not depend on what a user has ingested.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import chromadb

from knowledge.base import SAMPLE_DIR, KnowledgeBase, Mode

EVAL_SET = Path(__file__).parent / "eval" / "retrieval.jsonl"
DEPTH = 10
"""Ranks looked at for MRR; a first hit beyond it scores 0."""


@dataclass(frozen=True)
class Scores:
    """Retrieval quality of one knowledge base and mode over the evaluation questions."""

    name: str
    recall_at_1: float
    recall_at_5: float
    mrr: float
    questions: int


OFFLINE_MODES: tuple[Mode, ...] = ("dense", "lexical", "hybrid")
REMOTE_MODES: tuple[Mode, ...] = ("dense", "hybrid")
"""A remote endpoint is asked only the modes its embeddings change."""


def doc_stem(chunk_id: str) -> str:
    """`refunds#how-long-refunds-take~2` -> `refunds`."""
    return chunk_id.split("#")[0].split("~")[0]


def load_questions(path: Path = EVAL_SET) -> list[dict]:
    """The evaluation questions (JSON lines: question and the expected document)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(kb: KnowledgeBase, mode: Mode, questions: list[dict], name: str = "") -> Scores:
    """Recall@1, recall@5 and MRR of one retrieval mode over the questions."""
    ranks: list[int | None] = []
    for item in questions:
        found = kb.search_sync(item["question"], DEPTH, mode)
        expected = set(item["expected"])
        ranks.append(next((r for r, p in enumerate(found, 1) if doc_stem(p["id"]) in expected), None))
    n = len(ranks) or 1
    return Scores(name or mode,
                  sum(1 for r in ranks if r == 1) / n,
                  sum(1 for r in ranks if r is not None and r <= 5) / n,
                  sum(1 / r for r in ranks if r is not None) / n, len(ranks))


def sample_knowledge_base(embed, min_similarity: float) -> KnowledgeBase:
    """A throwaway in-memory collection holding the bundled sample, embedded with `embed`."""
    client = chromadb.EphemeralClient()
    collection = client.create_collection(f"eval-{uuid.uuid4().hex[:12]}",
                                          embedding_function=embed,
                                          configuration={"hnsw": {"space": "cosine"}})
    kb = KnowledgeBase(collection, embed, min_similarity)
    kb.ingest_markdown(SAMPLE_DIR)
    return kb


def evaluate_options(settings, questions: list[dict] | None = None) -> list[Scores]:
    """Offline dense, lexical and hybrid; plus the configured endpoint's hybrid when set."""
    from knowledge.embeddings import WordLlamaEmbedding, embedding_function

    questions = questions if questions is not None else load_questions()
    threshold = settings.retrieval_min_similarity
    offline = sample_knowledge_base(WordLlamaEmbedding(), threshold)
    results = [evaluate(offline, mode, questions, f"offline {mode}")
               for mode in OFFLINE_MODES]
    if settings.embeddings.model:
        remote = sample_knowledge_base(embedding_function(settings), threshold)
        results += [evaluate(remote, mode, questions, f"{settings.embeddings.model} {mode}")
                    for mode in REMOTE_MODES]
    return results
