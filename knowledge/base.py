"""The knowledge base: a Chroma collection of help-center chunks, searched per turn."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import chromadb

from knowledge.chunking import Chunk, markdown_chunks
from knowledge.embeddings import WordLlamaEmbedding

if TYPE_CHECKING:
    from graph.state import Passage
    from server.settings import Settings

log = logging.getLogger(__name__)
SAMPLE_DIR = Path(__file__).parent / "sample"


class KnowledgeBase:
    """Search and update one Chroma collection."""

    def __init__(self, collection: chromadb.Collection):
        self.collection = collection
        self.embed = WordLlamaEmbedding()

    def upsert(self, chunks: Iterable[Chunk]) -> int:
        """Add or replace chunks by id; returns how many were written."""
        chunks = list(chunks)
        if chunks:
            self.collection.upsert(
                ids=[c.id for c in chunks],
                documents=[c.text for c in chunks],
                # Headings carry much of a section's meaning; embed them with the text.
                embeddings=self.embed([f"{c.title}. {c.section}. {c.text}" for c in chunks]),
                metadatas=[c.metadata() for c in chunks],
            )
        return len(chunks)

    def ingest_markdown(self, folder: Path) -> int:
        return self.upsert(c for path in sorted(folder.glob("*.md")) for c in markdown_chunks(path))

    def search_sync(self, query: str, k: int = 4) -> list[Passage]:
        """The k passages closest to the query, best first, with a 0-1 relevance score."""
        if not query.strip() or not self.collection.count():
            return []
        found = self.collection.query(query_embeddings=self.embed([query]), n_results=k)
        return [
            {"id": id_, "title": meta["title"], "section": meta["section"], "url": meta["url"],
             "text": doc, "score": round(1.0 - float(dist), 4)}
            for id_, doc, meta, dist in zip(found["ids"][0], found["documents"][0],
                                            found["metadatas"][0], found["distances"][0],
                                            strict=True)
        ]

    async def search(self, query: str, k: int = 4) -> list[Passage]:
        # Chroma's client is synchronous; keep it off the event loop.
        return await asyncio.to_thread(self.search_sync, query, k)


def chroma_client(settings: Settings) -> chromadb.ClientAPI:
    """An HTTP client when CHROMA_URL is set, else embedded Chroma in the data directory."""
    if settings.chroma_url:
        from urllib.parse import urlparse

        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(host=url.hostname or "localhost", port=url.port or 8000,
                                   ssl=url.scheme == "https")
    path = settings.data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path))


def open_collection(settings: Settings, client: chromadb.ClientAPI | None = None) -> KnowledgeBase:
    client = client or chroma_client(settings)
    collection = client.get_or_create_collection(
        settings.knowledge_collection, embedding_function=WordLlamaEmbedding(),
        configuration={"hnsw": {"space": "cosine"}})
    return KnowledgeBase(collection)


async def open_knowledge_base(settings: Settings) -> KnowledgeBase:
    """The configured knowledge base; an empty one gets the bundled sample help center."""
    kb = await asyncio.to_thread(open_collection, settings)
    if not await asyncio.to_thread(kb.collection.count):
        count = await asyncio.to_thread(kb.ingest_markdown, SAMPLE_DIR)
        log.info("knowledge base was empty: ingested %d sample chunks", count)
    return kb
