"""Documents without a URL of their own are cited by title, or under the configured base URL,
never by a file path."""

from __future__ import annotations

import uuid

import chromadb

from knowledge.base import KnowledgeBase
from knowledge.chunking import citation_url
from nodes.respond import render


class FixedEmbedding:
    """Three-dimensional vectors: enough for Chroma, no model to load."""

    def __call__(self, input):
        return [[1.0, float(len(text) % 7), 0.5] for text in input]

    def name(self) -> str:
        return "fixed"


def _sample_folder(tmp_path):
    (tmp_path / "leaflet.md").write_text("# Leaflet\n\nIntro.\n\n## Assembly\n\nAssembly costs 49 €.\n")
    (tmp_path / "linked.md").write_text("---\nurl: https://help.example.test/linked\n---\n# Linked\n\nText.\n")
    return tmp_path


def _urls(kb):
    got = kb.collection.get(include=["metadatas"])
    return dict(zip(got["ids"], [m["url"] for m in got["metadatas"]], strict=True))


def _kb():
    collection = chromadb.EphemeralClient().create_collection(f"t-{uuid.uuid4().hex[:8]}")
    return KnowledgeBase(collection, FixedEmbedding())


def test_a_file_without_a_url_is_never_cited_by_its_path(tmp_path):
    kb = _kb()
    kb.ingest_markdown(_sample_folder(tmp_path))
    urls = _urls(kb)
    assert urls == {"leaflet": "", "leaflet#assembly": "", "linked": "https://help.example.test/linked"}
    assert not any(url.startswith("file:") for url in urls.values())


def test_a_configured_base_url_cites_files_under_it(tmp_path):
    kb = _kb()
    kb.ingest_markdown(_sample_folder(tmp_path), "https://help.example.test/docs/")
    assert _urls(kb) == {"leaflet": "https://help.example.test/docs/leaflet",
                         "leaflet#assembly": "https://help.example.test/docs/leaflet#assembly",
                         "linked": "https://help.example.test/linked"}
    assert citation_url(None, "leaflet") == citation_url("", "leaflet") == ""


def test_a_source_without_a_url_is_shown_by_title_and_section():
    cited = {"id": "leaflet#assembly", "title": "Leaflet", "section": "Assembly", "url": "", "text": ""}
    assert render("Assembly costs 49 €.", [cited]) == "Assembly costs 49 €.\n\nSources:\n1. Leaflet › Assembly"
