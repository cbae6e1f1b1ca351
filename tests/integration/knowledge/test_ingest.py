"""Ingest on a real Chroma: every format, idempotent re-runs, prune, bad files, URLs."""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from knowledge.base import EmbeddingModelMismatch, open_collection
from knowledge.fetch import FetchPolicy
from knowledge.ingest import ingest

pytestmark = pytest.mark.integration


def _ids(kb) -> set[str]:
    return set(kb.collection.get()["ids"])


def test_every_format_is_ingested(kb, corpus):
    report = ingest(kb, [str(corpus)])
    assert (report.files, report.errors, report.skipped) == (6, [], [])
    assert {"care-guide#oak-furniture", "store-hours#weekday-hours", "returns-leaflet#page=1",
            "warranty-notes", "faq#do-you-sell-gift-vouchers", "price-faq#do-you-price-match"} <= _ids(kb)
    assert report.chunks == report.embedded == len(_ids(kb))


def test_reingesting_the_same_input_changes_nothing(kb, corpus):
    ingest(kb, [str(corpus)])
    before = kb.collection.get(include=["metadatas"])
    kb.embed.texts.clear()
    report = ingest(kb, [str(corpus)])
    assert (report.embedded, report.deleted, report.unchanged) == (0, 0, report.chunks)
    assert kb.embed.texts == []  # nothing was embedded again
    assert kb.collection.get(include=["metadatas"]) == before


def test_a_changed_section_is_the_only_one_embedded_again(kb, corpus):
    ingest(kb, [str(corpus)])
    guide = corpus / "care-guide.md"
    guide.write_text(guide.read_text().replace("twice a year", "every three months")
                     .replace("## Velvet sofas", "## Linen sofas"))
    kb.embed.texts.clear()
    report = ingest(kb, [str(corpus)])
    assert report.embedded == 2 and report.deleted == 1  # oak changed, velvet became linen
    assert len(kb.embed.texts) == 2 and "every three months" in kb.embed.texts[0]
    assert "care-guide#linen-sofas" in _ids(kb) and "care-guide#velvet-sofas" not in _ids(kb)


def test_prune_deletes_documents_that_disappeared(kb, corpus):
    ingest(kb, [str(corpus)])
    (corpus / "warranty-notes.txt").unlink()
    assert "warranty-notes" in _ids(kb)
    kept = ingest(kb, [str(corpus)])
    assert kept.deleted == 0 and "warranty-notes" in _ids(kb)  # no prune: left alone
    pruned = ingest(kb, [str(corpus)], prune_missing=True)
    assert pruned.pruned_documents == 1 and "warranty-notes" not in _ids(kb)
    assert "care-guide#oak-furniture" in _ids(kb)


def test_a_bad_file_is_reported_and_the_rest_ingested(kb, corpus):
    (corpus / "broken.pdf").write_bytes(b"this is not a pdf")
    (corpus / "broken-faq.json").write_text('[{"question": "no answer here"}]')
    (corpus / "photo.png").write_bytes(b"\x89PNG")
    report = ingest(kb, [str(corpus), str(corpus / "missing.md")])
    errors = dict(report.errors)
    assert set(errors) == {str(corpus / "broken.pdf"), str(corpus / "broken-faq.json"),
                           str(corpus / "missing.md")}
    assert "not a readable PDF" in errors[str(corpus / "broken.pdf")]
    assert "answer" in errors[str(corpus / "broken-faq.json")]
    assert [location for location, _ in report.skipped] == [str(corpus / "photo.png")]
    assert report.files == 6 and "care-guide#oak-furniture" in _ids(kb)


def test_urls_are_fetched_and_cited_by_url(kb, corpus):
    handler = partial(SimpleHTTPRequestHandler, directory=str(corpus))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        urls = [f"{base}/store-hours.html", f"{base}/returns-leaflet.pdf", f"{base}/nowhere.html"]
        report = ingest(kb, urls, policy=FetchPolicy(allow_private=True),
                        allowed_hosts=["help.example.test"])
    finally:
        server.shutdown()
    assert report.files == 2 and report.errors == [(f"{base}/nowhere.html", "HTTP 404")]
    assert report.fetched == [(u, u) for u in urls[:2]]
    meta = kb.collection.get(ids=["store-hours#weekday-hours"])["metadatas"][0]
    assert meta["source"] == f"{base}/store-hours.html"
    assert meta["url"] == ""  # 127.0.0.1 is no host a customer may be sent to


def test_document_links_are_kept_only_on_allowed_hosts(kb, corpus, caplog):
    ids = ["care-guide#oak-furniture", "faq#do-you-sell-gift-vouchers", "warranty-notes"]
    ingest(kb, [str(corpus)], allowed_hosts=["help.example.test"])
    got = kb.collection.get(ids=ids, include=["metadatas"])
    assert dict(zip(got["ids"], [m["url"] for m in got["metadatas"]], strict=True)) == {
        "care-guide#oak-furniture": "https://help.example.test/care-guide#oak-furniture",
        "faq#do-you-sell-gift-vouchers": "https://help.example.test/gift-vouchers",
        "warranty-notes": ""}  # a file without a URL of its own gets none (no file:// link)
    assert not [r for r in caplog.records if r.name == "knowledge.ingest"]  # nothing dropped
    ingest(kb, [str(corpus)], allowed_hosts=["help.harborandpine.example"])
    got = kb.collection.get(ids=ids, include=["metadatas"])
    assert [m["url"] for m in got["metadatas"]] == ["", "", ""]
    warnings = [r for r in caplog.records if r.name == "knowledge.ingest"]
    assert len(warnings) == 3 and all(r.levelname == "WARNING" for r in warnings)  # one per document


def test_a_collection_refuses_a_different_embedding_model(kb, kb_settings, corpus):
    ingest(kb, [str(corpus)])
    other = kb_settings.model_copy(update={"embeddings": kb_settings.embeddings.model_copy(
        update={"model": "text-embedding-3-small"})})
    with pytest.raises(EmbeddingModelMismatch, match="re-ingest|Re-ingest"):
        open_collection(other)
    # the same model re-opens fine, and --recreate is the way to switch
    assert open_collection(kb_settings).collection.count() == kb.collection.count()
    assert open_collection(other, recreate=True).collection.count() == 0


def test_whole_collection_reads_are_paged(kb, corpus):
    from knowledge.paging import get_all

    ingest(kb, [str(corpus)])
    paged = get_all(kb.collection, ["metadatas"], page=2)
    assert sorted(paged["ids"]) == sorted(_ids(kb)) and len(paged["metadatas"]) == len(paged["ids"])


def test_two_files_with_the_same_ids_do_not_overwrite_each_other(kb, corpus, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "care-guide.md").write_text("# Care guide\n\n## Oak furniture\n\nSomething else.\n")
    report = ingest(kb, [str(corpus), str(other)])
    assert report.errors == [(str(other / "care-guide.md"),
                              f"its chunk ids clash with {corpus / 'care-guide.md'}; rename one of them")]
    text = kb.collection.get(ids=["care-guide#oak-furniture"])["documents"][0]
    assert "damp cloth" in text
