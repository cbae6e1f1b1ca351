"""Where documents come from: files, folders and http(s) URLs, turned into `Document`s.

A source that cannot be read raises `SourceError` with a reason a person can act on, so
ingest can report it and carry on with the rest. Reading is bounded: URLs go through
`knowledge.fetch` (public addresses only, typed, capped); files above the same cap are
refused; a folder's symlinks that lead out of it are skipped, so ingesting a folder
cannot read /etc/passwd or a private key through a link someone planted in it.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from knowledge.addresses import BlockedAddress, resolve
from knowledge.chunking import Document
from knowledge.faq import parse_faq_csv, parse_faq_json
from knowledge.fetch import OCTET_STREAM, FetchPolicy, FetchRefused, check_url, fetch
from knowledge.formats import FormatError, parse_html, parse_markdown, parse_pdf, parse_text

Parser = Callable[[bytes, str, str, str], Document]
"""(content, stem, source, url) -> Document"""
BY_SUFFIX: dict[str, Parser] = {
    ".md": parse_markdown, ".markdown": parse_markdown, ".txt": parse_text,
    ".html": parse_html, ".htm": parse_html, ".pdf": parse_pdf,
    ".csv": parse_faq_csv, ".json": parse_faq_json,
}
BY_MEDIA_TYPE: dict[str, Parser] = {
    "text/markdown": parse_markdown, "text/x-markdown": parse_markdown, "text/plain": parse_text,
    "text/html": parse_html, "application/xhtml+xml": parse_html, "application/pdf": parse_pdf,
    "text/csv": parse_faq_csv, "application/json": parse_faq_json,
}
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]+):")
"""A URL's scheme; two letters or more, so a Windows drive (C:) stays a path."""


class SourceError(Exception):
    """This source was not ingested; the message says why."""


class Unsupported(SourceError):
    """Not a format we read (or a file we must not read): skipped, not an error."""


@dataclass(frozen=True)
class Source:
    """One file or URL to ingest."""

    location: str
    skip: str = ""
    """Why a file found in a folder is skipped rather than read (a symlink out of it)."""

    @property
    def is_url(self) -> bool:
        return url_scheme(self.location) is not None


@dataclass(frozen=True)
class Raw:
    """A source's bytes before parsing, and where they came from."""

    content: bytes
    media_type: str
    stem: str
    url: str
    """For a URL, the final one after redirects; empty for a file."""


def url_scheme(item: str) -> str | None:
    """The scheme when an input is a URL (any scheme: only http(s) will be fetched)."""
    match = _SCHEME.match(item)
    return match.group(1).lower() if match and not Path(item).exists() else None


def expand(inputs: list[str]) -> list[Source]:
    """Each input as sources: folders are walked for files, in a stable order."""
    sources: list[Source] = []
    for item in inputs:
        if url_scheme(item):
            sources.append(Source(item))
        elif Path(item).is_dir():
            sources += _folder(Path(item))
        else:  # absolute, so re-ingest from another directory matches
            sources.append(Source(str(Path(item).resolve())))
    return sources


def _folder(root: Path) -> list[Source]:
    """Every file under root, unsupported ones too (they are reported as skipped). A symlink
    is read only if it resolves inside root; symlinked folders are not walked (one inside
    root is walked as itself)."""
    base, found, seen = root.resolve(), [], set()
    for folder, folders, files in os.walk(root):  # does not follow symlinked folders
        for name in sorted(folders):
            path = Path(folder) / name
            if path.is_symlink() and not path.resolve().is_relative_to(base):
                found.append((str(path), Source(str(path), skip=f"a symlink to a folder outside {root}")))
        for name in sorted(n for n in files if not n.startswith(".")):
            path = Path(folder) / name
            target = path.resolve()
            if not target.is_relative_to(base):
                found.append((str(path), Source(str(path), skip=f"a symlink to a file outside {root}")))
            elif target.is_file() and str(target) not in seen:  # a link to a file inside: once
                seen.add(str(target))
                found.append((str(path), Source(str(target))))
    return [source for _, source in sorted(found, key=lambda pair: Path(pair[0]))]


def refusals(inputs: list[str], policy: FetchPolicy) -> list[tuple[str, str]]:
    """Inputs refused before anything is read: URLs of another scheme, or whose host is not
    one ingest may reach. (Each fetch checks again, redirects included.)"""
    refused = []
    for item in inputs:
        if url_scheme(item) is None:
            continue
        try:
            url = check_url(item)
            resolve(url.raw_host.decode("ascii"), url.port or (443 if url.scheme == "https" else 80),
                    policy.allow_private)
        except (FetchRefused, BlockedAddress) as error:
            refused.append((item, str(error)))
    return refused


def load(source: Source, policy: FetchPolicy | None = None) -> Document:
    """Read and parse one source."""
    return parse(source, read(source, policy or FetchPolicy()))


def read(source: Source, policy: FetchPolicy) -> Raw:
    """The raw bytes of a source, fetched under the policy or read from disk; Unsupported when
    skipped."""
    if source.skip:
        raise Unsupported(source.skip)
    return _fetch(source, policy) if source.is_url else _read(source, policy)


def parse(source: Source, raw: Raw) -> Document:
    """A source's raw bytes as a document, by media type or file suffix."""
    suffix = PurePosixPath(urlparse(raw.url).path).suffix.lower() if source.is_url \
        else Path(source.location).suffix.lower()
    parser = BY_MEDIA_TYPE.get(raw.media_type) if raw.media_type else None
    parser = parser or BY_SUFFIX.get(suffix)
    if parser is None:
        raise Unsupported(f"unsupported format {raw.media_type or suffix or '(no extension)'}")
    try:
        doc = parser(raw.content, raw.stem, source.location, raw.url)
    except FormatError as error:
        raise SourceError(str(error)) from error
    except UnicodeDecodeError as error:
        raise SourceError(f"not UTF-8 text ({error.reason} at byte {error.start})") from error
    if not any(section.text.strip() for section in doc.sections):
        raise Unsupported("no text found")
    return doc


def _read(source: Source, policy: FetchPolicy) -> Raw:
    path = Path(source.location)
    if path.suffix.lower() not in BY_SUFFIX:
        raise Unsupported(f"unsupported format {path.suffix or '(no extension)'}")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        with open(os.open(path, flags), "rb") as file:  # a FIFO must not hang the run
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise SourceError("not a regular file")
            content = file.read(policy.max_bytes + 1)
    except OSError as error:
        raise SourceError(error.strerror or str(error)) from error
    if len(content) > policy.max_bytes:
        raise SourceError(f"refused: larger than {policy.max_bytes / 1e6:g} MB "
                          "(raise --max-download-mb to allow it)")
    return Raw(content, "", path.stem, "")


def _accepts(media_type: str, url: str) -> bool:
    """A type we parse, or a generic one on a URL whose extension we parse."""
    suffix = PurePosixPath(urlparse(url).path).suffix.lower()
    return media_type in BY_MEDIA_TYPE or (media_type in OCTET_STREAM and suffix in BY_SUFFIX)


def _fetch(source: Source, policy: FetchPolicy) -> Raw:
    try:
        fetched = fetch(source.location, policy, _accepts)
    except FetchRefused as error:
        raise SourceError(str(error)) from None
    media_type = fetched.media_type if fetched.media_type in BY_MEDIA_TYPE else ""
    parsed = urlparse(fetched.url)
    path = PurePosixPath(parsed.path)
    stem = path.stem or (path.parent.name if path.parent.name else parsed.hostname or "page")
    return Raw(fetched.content, media_type, stem, fetched.url)
