"""The knowledge base: a Chroma collection of help-center chunks, searched per turn.

The collection records which embedding model filled it; opening it with another model is
refused, because vectors from two models are not comparable and search would silently rot.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import chromadb
import numpy as np
import numpy.typing as npt

from knowledge.chunking import Chunk, chunks_of, citation_url
from knowledge.embeddings import embedding_function
from knowledge.formats import parse_markdown
from knowledge.hybrid import (
    CANDIDATES,
    DENSE_WEIGHT,
    LEXICAL_WEIGHT,
    RRF_K,
    WORD_MATCH,
    LexicalSnapshot,
    chroma_where,
    reciprocal_rank_fusion,
)
from knowledge.paging import included

if TYPE_CHECKING:
    from graph.base.settings import Settings
    from graph.state import Passage

log = logging.getLogger(__name__)
SAMPLE_DIR = Path(__file__).parent / "sample"
REVISION_CHECK_S = 5.0
"""How stale the in-memory BM25 index may be when another process ingests."""
Mode = Literal["hybrid", "dense", "lexical"]


class EmbeddingModelMismatch(RuntimeError):
    """The collection was embedded with a different model than the one configured."""


class KnowledgeBase:
    """Search and update one Chroma collection."""

    def __init__(self, collection: chromadb.Collection, embed=None, min_similarity: float = 0.0,
                 client: chromadb.ClientAPI | None = None):
        from knowledge.embeddings import WordLlamaEmbedding

        self.collection = collection
        self.embed = embed or WordLlamaEmbedding()
        self.min_similarity = min_similarity
        self.client = client
        self._lexical: LexicalSnapshot | None = None
        self._checked_at = 0.0
        self._building = threading.Lock()  # searches run in worker threads; build once

    @property
    def revision(self) -> int:
        return int((self.collection.metadata or {}).get("revision", 0))

    def _bump_revision(self) -> None:
        self.collection.modify(metadata={**(self.collection.metadata or {}),
                                         "revision": self.revision + 1})
        self._lexical = None

    def upsert(self, chunks: Iterable[Chunk], batch: int = 512) -> int:
        """Add or replace chunks by id, embedding them; returns how many were written."""
        chunks = list(chunks)
        for start in range(0, len(chunks), batch):
            part = chunks[start:start + batch]
            self.collection.upsert(ids=[c.id for c in part], documents=[c.text for c in part],
                                   embeddings=self.embed([c.embed_text for c in part]),
                                   metadatas=[c.metadata() for c in part])
        if chunks:
            self._bump_revision()
        return len(chunks)

    def delete(self, ids: list[str]) -> int:
        if ids:
            self.collection.delete(ids=ids)
            self._bump_revision()
        return len(ids)

    def ingest_markdown(self, folder: Path, citation_base_url: str | None = None) -> int:
        """Upsert every Markdown file of a folder (the bundled sample); a file without a `url`
        is cited under `citation_base_url`, else by title only (never by its path)."""
        return self.upsert(c for path in sorted(folder.glob("*.md")) for c in chunks_of(
            parse_markdown(path.read_bytes(), path.stem, str(path.resolve()),
                           citation_url(citation_base_url, path.stem))))

    def lexical(self) -> LexicalSnapshot:
        """The BM25 snapshot, rebuilt when this or another process changed the collection."""
        now = time.monotonic()
        if self.client is not None and now - self._checked_at > REVISION_CHECK_S:
            self._checked_at = now
            self.collection = self.client.get_collection(self.collection.name)
        with self._building:
            if self._lexical is None or self._lexical.revision != self.revision:
                self._lexical = LexicalSnapshot.build(self.collection, self.revision)
            return self._lexical

    def search_sync(self, query: str, k: int = 4, mode: Mode = "hybrid",
                    where: dict[str, str] | None = None) -> list[Passage]:
        """The k passages that best answer the query, best first, each with a 0-1 score.

        Passages less similar to the query than `min_similarity` are dropped, so a question
        the help center does not cover gets no passages rather than the least bad ones.
        """
        if not query.strip():
            return []
        return fuse(self, query, k, mode, where or {})

    async def search(self, query: str, k: int = 4, where: dict[str, str] | None = None) -> list[Passage]:
        # Chroma's client is synchronous; keep it off the event loop.
        return await asyncio.to_thread(self.search_sync, query, k, "hybrid", where)


def chroma_client(settings: Settings) -> chromadb.ClientAPI:
    """An HTTP client when CHROMA_URL is set, else embedded Chroma in the data directory.
    The URL goes to Chroma whole, so its scheme, port and path mean what they mean to the
    startup check (server/provider_checks.py): https://chroma.example.com is port 443, and a
    proxy's path prefix is kept, never Chroma's own default port 8000 instead."""
    if settings.chroma_url:
        return chromadb.HttpClient(host=settings.chroma_url.rstrip("/"))
    path = settings.data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path))


def open_collection(settings: Settings, client: chromadb.ClientAPI | None = None,
                    recreate: bool = False) -> KnowledgeBase:
    """The configured collection; refuses one filled by another embedding model.
    `recreate` deletes it first, which is how a user switches models."""
    client = client or chroma_client(settings)
    embed = embedding_function(settings)
    name = settings.knowledge_collection
    if name in {c.name for c in client.list_collections()}:
        if recreate:
            client.delete_collection(name)
        else:  # check our record before Chroma's vaguer embedding-function conflict error
            _check_model(client.get_collection(name), embed.model_id)
    # Chroma types this parameter as EmbeddingFunction[Embeddable] (invariant), which no
    # text-only function is; its own default functions carry the same ignore.
    collection = client.get_or_create_collection(
        name, embedding_function=embed,  # type: ignore[arg-type]
        configuration={"hnsw": {"space": "cosine"}},
        metadata={"embedding_model": embed.model_id, "revision": 0})
    return KnowledgeBase(collection, embed, settings.retrieval_min_similarity, client)


def _check_model(collection: chromadb.Collection, model_id: str) -> None:
    recorded = (collection.metadata or {}).get("embedding_model")
    if recorded is None:  # made before models were recorded: always WordLlama
        recorded = "wordllama-l2_supercat-256"
        collection.modify(metadata={**(collection.metadata or {}), "embedding_model": recorded})
    if recorded != model_id:
        raise EmbeddingModelMismatch(
            f"The knowledge base '{collection.name}' was embedded with {recorded}, but {model_id} "
            f"is configured. Re-ingest with the new model (switchboard ingest --recreate "
            f"PATH_OR_URL...) or set EMBEDDINGS__MODEL back.")


async def open_knowledge_base(settings: Settings) -> KnowledgeBase:
    """The configured knowledge base; an empty one gets the bundled sample help center."""
    kb = await asyncio.to_thread(open_collection, settings)
    if not await asyncio.to_thread(kb.collection.count):
        count = await asyncio.to_thread(kb.ingest_markdown, SAMPLE_DIR,
                                        settings.knowledge_citation_base_url)
        log.info("knowledge base was empty: ingested %d sample chunks", count)
    return kb


# --- Hybrid search: dense and BM25 rankings fused (knowledge/hybrid.py has the parts) ---

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
        found = kb.collection.query(query_embeddings=queries, where=chroma_where(where),
                                    n_results=min(CANDIDATES, len(snapshot.ids)),
                                    include=["distances"])
        ids = found["ids"][0]
        similarity |= {i: 1.0 - float(d) for i, d in zip(ids, included(found["distances"], "distances")[0],
                                                          strict=True)}
        rankings.append((DENSE_WEIGHT, ids))
    matched: set[str] = set()
    if mode in ("hybrid", "lexical"):
        best = snapshot.bm25.top(query, CANDIDATES, snapshot.mask(where))
        rankings.append((LEXICAL_WEIGHT, [snapshot.ids[i] for i, _ in best]))
        share = snapshot.bm25.matched_share(query)
        matched = {snapshot.ids[i] for i, _ in best if share[i] >= WORD_MATCH}
    fused = reciprocal_rank_fusion(rankings)
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
    kept = [i for i in ranked if similarity.get(i, 0.0) >= kb.min_similarity or i in matched][:k]
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
