"""Where documents come from: files, folders and http(s) URLs, turned into `Document`s.

A source that cannot be read raises `SourceError` with a reason a person can act on, so
ingest can report it and carry on with the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from knowledge.chunking import Document
from knowledge.faq import parse_faq_csv, parse_faq_json
from knowledge.formats import FormatError, parse_html, parse_markdown, parse_pdf, parse_text

FETCH_TIMEOUT_S = 20.0

Parser = Callable[[bytes, str, str, str], Document]
"""(content, stem, source, url) -> Document"""
BY_SUFFIX: dict[str, Parser] = {
    ".md": parse_markdown, ".markdown": parse_markdown, ".txt": parse_text,
    ".html": parse_html, ".htm": parse_html, ".pdf": parse_pdf,
    ".csv": parse_faq_csv, ".json": parse_faq_json,
}
BY_MEDIA_TYPE: dict[str, Parser] = {
    "text/markdown": parse_markdown, "text/plain": parse_text, "text/html": parse_html,
    "application/pdf": parse_pdf, "text/csv": parse_faq_csv, "application/json": parse_faq_json,
}


class SourceError(Exception):
    """This source was not ingested; the message says why."""


class Unsupported(SourceError):
    """Not a format we read: skipped, not an error."""


@dataclass(frozen=True)
class Source:
    """One file or URL to ingest."""

    location: str

    @property
    def is_url(self) -> bool:
        return urlparse(self.location).scheme in ("http", "https")


def expand(inputs: list[str]) -> list[Source]:
    """Each input as sources: folders are walked for supported files, in a stable order."""
    sources: list[Source] = []
    for item in inputs:
        path = Path(item)
        if urlparse(item).scheme in ("http", "https"):
            sources.append(Source(item))
        elif not path.is_dir():  # absolute, so re-ingest from another directory matches
            sources.append(Source(str(path.resolve())))
        else:
            # Every file, so unsupported ones are reported as skipped rather than vanishing.
            sources += [Source(str(p.resolve())) for p in sorted(path.rglob("*"))
                        if p.is_file() and not p.name.startswith(".")]
    return sources


def load(source: Source) -> Document:
    """Read and parse one source."""
    content, media_type, stem, url = _fetch(source) if source.is_url else _read(source)
    suffix = PurePosixPath(urlparse(source.location).path).suffix.lower() if source.is_url \
        else Path(source.location).suffix.lower()
    parser = BY_MEDIA_TYPE.get(media_type) if media_type else None
    parser = parser or BY_SUFFIX.get(suffix)
    if parser is None:
        raise Unsupported(f"unsupported format {media_type or suffix or '(no extension)'}")
    try:
        doc = parser(content, stem, source.location, url)
    except FormatError as error:
        raise SourceError(str(error)) from error
    except UnicodeDecodeError as error:
        raise SourceError(f"not UTF-8 text ({error.reason} at byte {error.start})") from error
    if not any(section.text.strip() for section in doc.sections):
        raise Unsupported("no text found")
    return doc


def _read(source: Source) -> tuple[bytes, str, str, str]:
    path = Path(source.location)
    if path.suffix.lower() not in BY_SUFFIX:
        raise Unsupported(f"unsupported format {path.suffix or '(no extension)'}")
    try:
        content = path.read_bytes()
    except OSError as error:
        raise SourceError(error.strerror or str(error)) from error
    return content, "", path.stem, path.resolve().as_uri()


def _fetch(source: Source) -> tuple[bytes, str, str, str]:
    import httpx

    try:
        response = httpx.get(source.location, timeout=FETCH_TIMEOUT_S, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPStatusError as error:
        raise SourceError(f"HTTP {error.response.status_code}") from error
    except httpx.HTTPError as error:
        raise SourceError(f"fetch failed ({type(error).__name__}: {error})") from error
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in BY_MEDIA_TYPE:
        media_type = ""  # e.g. application/octet-stream: trust the URL's extension instead
    url = str(response.url)
    parsed = urlparse(url)
    path = PurePosixPath(parsed.path)
    stem = path.stem or (path.parent.name if path.parent.name else parsed.hostname or "page")
    return response.content, media_type, stem, url
