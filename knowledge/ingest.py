"""Idempotent ingest: embed only what changed, delete what disappeared.

Each chunk's content hash is stored in its metadata; a chunk whose hash is unchanged is
neither embedded nor written again, so re-running ingest on the same input costs only the
parsing. Chunks of a document that are no longer produced are deleted with it.

A source is read and parsed whole before anything of it is written, so one that fails
leaves nothing half-ingested; inputs refused outright (a URL to a private address, a
`file:` or `javascript:` URL) stop the run before anything is written at all. Links stored
with chunks are kept only when they are http(s) on an allowed host (`graph.base.links`): they are
shown to customers as Sources.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from graph.base.links import is_allowed_url
from knowledge.base import KnowledgeBase
from knowledge.chunking import Chunk, chunks_of, citation_url
from knowledge.fetch import FetchPolicy
from knowledge.paging import get_all
from knowledge.sources import Source, SourceError, Unsupported, expand, parse, read, refusals

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingest run did, for the closing summary."""

    files: int = 0
    chunks: int = 0
    embedded: int = 0
    unchanged: int = 0
    deleted: int = 0
    pruned_documents: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    fetched: list[tuple[str, str]] = field(default_factory=list)
    """(URL asked for, final URL after redirects) of each URL read."""
    refused: bool = False
    """The run stopped before writing anything: every reason is in errors."""
    owners: dict[str, str] = field(default_factory=dict, repr=False)
    """Which source produced each chunk id this run."""


def _stored_hashes(kb: KnowledgeBase, where: dict | None = None) -> dict[str, dict]:
    found = get_all(kb.collection, ["metadatas"], where)
    return {id_: meta or {} for id_, meta in zip(found["ids"], found["metadatas"], strict=True)}


def vetted_links(chunks: list[Chunk], source: str, allowed_hosts: Iterable[str]) -> list[Chunk]:
    """The chunks with every URL that is not http(s) on an allowed host dropped (one warning)."""
    dropped = sorted({c.url for c in chunks if c.url and not is_allowed_url(c.url, allowed_hosts)})
    shown = [url for url in dropped if not url.startswith("#")]  # "#anchor" of a URL-less file
    if shown:
        log.warning("%s: dropped %d link(s) that are not http(s) on an allowed host, e.g. %r",
                    source, len(shown), shown[0][:200])
    return [replace(c, url="") if c.url in dropped else c for c in chunks]


def ingest_source(kb: KnowledgeBase, source: Source, report: IngestReport,
                  policy: FetchPolicy | None = None, allowed_hosts: Iterable[str] = (),
                  citation_base_url: str | None = None) -> None:
    """Read and parse one source whole, then bring its chunks in the collection up to date."""
    raw = read(source, policy or FetchPolicy())
    doc = parse(source, raw)
    if not doc.url:
        doc = replace(doc, url=citation_url(citation_base_url, doc.stem))
    if source.is_url:
        report.fetched.append((source.location, raw.url))
    chunks = vetted_links(chunks_of(doc), doc.source, allowed_hosts)
    clashes = {report.owners[c.id] for c in chunks if c.id in report.owners}
    if clashes:  # same file name in two folders: ids are <stem>#<anchor>, so one would overwrite
        raise SourceError(f"its chunk ids clash with {sorted(clashes)[0]}; rename one of them")
    report.owners |= {c.id: doc.source for c in chunks}
    stored = _stored_hashes(kb, {"source": doc.source})
    changed = [c for c in chunks if stored.get(c.id, {}).get("content_hash") != c.content_hash]
    fresh_ids = {c.id for c in chunks}
    report.deleted += kb.delete([i for i in stored if i not in fresh_ids])
    report.embedded += kb.upsert(changed)
    report.unchanged += len(chunks) - len(changed)
    report.chunks += len(chunks)
    report.files += 1


def prune(kb: KnowledgeBase, kept_sources: set[str], report: IngestReport) -> None:
    """Delete every document whose source was not part of this run."""
    stale: dict[str, list[str]] = {}
    for id_, meta in _stored_hashes(kb).items():
        if meta.get("source") not in kept_sources:
            stale.setdefault(str(meta.get("source")), []).append(id_)
    for ids in stale.values():
        report.deleted += kb.delete(ids)
    report.pruned_documents += len(stale)


def ingest(kb: KnowledgeBase, inputs: list[str], prune_missing: bool = False,
           progress: Callable[[Source, int, int], None] | None = None,
           policy: FetchPolicy | None = None, allowed_hosts: Iterable[str] | None = None,
           citation_base_url: str | None = None) -> IngestReport:
    """Ingest files, folders and URLs; a bad source is recorded and the rest carry on.

    With `prune_missing`, documents in the collection that no input produced are deleted;
    sources that failed this run are kept, so a flaky fetch cannot wipe a document.
    `allowed_hosts` (default: the settings') are the hosts a stored link may point to;
    documents without a URL are cited under `citation_base_url` (default: the settings').
    """
    policy = policy or FetchPolicy()
    if allowed_hosts is None or citation_base_url is None:
        from graph.base.settings import get_settings

        settings = get_settings()
        allowed_hosts = settings.allowed_url_hosts if allowed_hosts is None else allowed_hosts
        citation_base_url = citation_base_url or settings.knowledge_citation_base_url
    allowed_hosts = list(allowed_hosts)
    report = IngestReport()
    if refused := refusals(inputs, policy):
        report.errors, report.refused = refused, True
        return report
    sources = expand(inputs)
    seen: set[str] = set()
    for n, source in enumerate(sources, 1):
        if progress:
            progress(source, n, len(sources))
        try:
            ingest_source(kb, source, report, policy, allowed_hosts, citation_base_url)
            seen.add(source.location)
        except Unsupported as reason:
            report.skipped.append((source.location, str(reason)))
        except SourceError as error:
            report.errors.append((source.location, str(error)))
            seen.add(source.location)
        except Exception as error:  # a parser bug must not lose the rest of the run
            report.errors.append((source.location, f"{type(error).__name__}: {error}"))
            seen.add(source.location)
    if prune_missing:
        prune(kb, seen, report)
    return report
