"""Turn parsed documents into section chunks that can be cited and deep-linked.

Every format (Markdown, HTML, PDF, text, FAQ) is first parsed into a `Document` of
`Section`s; this module alone decides how sections become chunks, so ids, size limits and
overlap behave the same whatever the source format was.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

MAX_CHARS = 1000
"""Longest chunk text; a longer section is split into overlapping pieces."""
OVERLAP_CHARS = 150
"""Text a piece repeats from the end of the one before, so no sentence loses its context."""

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Section:
    """One headed part of a document; `whole` keeps it in one chunk (an FAQ entry)."""

    heading: str
    anchor: str
    text: str
    url: str = ""
    """A deep link of its own; empty means the document URL plus `#anchor`."""
    whole: bool = False


@dataclass(frozen=True)
class Document:
    """A parsed source: where it came from and its sections in reading order."""

    stem: str
    """Prefix of every chunk id, e.g. `refunds` for refunds.md."""
    title: str
    url: str
    source: str
    """The path or URL it was read from; re-ingest and prune match documents by it."""
    locale: str = "en"
    updated_at: str = ""
    sections: list[Section] = field(default_factory=list)


@dataclass(frozen=True)
class Chunk:
    """One citable piece of a document."""

    id: str
    text: str
    title: str
    section: str
    url: str
    locale: str
    updated_at: str
    source: str
    anchor: str = ""

    @property
    def embed_text(self) -> str:
        """What is embedded: headings carry much of a section's meaning, so they go in too."""
        return f"{self.title}. {self.section}. {self.text}"

    @property
    def content_hash(self) -> str:
        """Changes whenever anything stored for the chunk changes, so re-ingest can skip it."""
        fields = (self.embed_text, self.url, self.locale, self.updated_at, self.anchor)
        return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()[:16]

    def metadata(self) -> dict[str, str]:
        return {"title": self.title, "section": self.section, "url": self.url,
                "anchor": self.anchor, "locale": self.locale, "updated_at": self.updated_at,
                "source": self.source, "content_hash": self.content_hash}


def anchor(heading: str) -> str:
    """The URL fragment a help center gives a heading (accents dropped: Chêne -> chene)."""
    ascii_heading = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_heading.lower()).strip("-")


def citation_url(base_url: str | None, stem: str) -> str:
    """The URL a document without one of its own is cited by: `<base>/<stem>`, or none (it is
    then cited by title and section; a file's path is never a link a customer can open)."""
    return f"{base_url.rstrip('/')}/{stem}" if base_url else ""


def split_text(text: str, max_chars: int = MAX_CHARS, overlap: int = OVERLAP_CHARS) -> list[str]:
    """Pieces of at most ~max_chars, cut at paragraphs (else sentences), each starting with
    up to `overlap` characters of whole paragraphs or sentences from the previous piece."""
    if len(text) <= max_chars:
        return [text]
    units: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        paragraph = paragraph.strip()
        if len(paragraph) <= max_chars:
            units.append(paragraph)
        else:  # a wall of text: fall back to sentences, and hard cuts for giant sentences
            for sentence in _SENTENCE.split(paragraph):
                units += [sentence[i:i + max_chars] for i in range(0, len(sentence), max_chars)]
    pieces: list[str] = []
    current: list[str] = []
    for unit in filter(None, units):
        if current and len("\n\n".join([*current, unit])) > max_chars:
            pieces.append("\n\n".join(current))
            tail: list[str] = []
            for previous in reversed(current):
                if len("\n\n".join([previous, *tail])) > overlap:
                    break
                tail.insert(0, previous)
            current = tail
        current.append(unit)
    if current:
        pieces.append("\n\n".join(current))
    return pieces


def chunks_of(doc: Document, max_chars: int = MAX_CHARS, overlap: int = OVERLAP_CHARS) -> list[Chunk]:
    """The document's chunks, with ids `<stem>#<anchor>` (the intro is `<stem>`), and `~2`,
    `~3`... appended for the later pieces of an over-long section, so ids stay stable."""
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section in doc.sections:
        text = section.text.strip()
        if not text:
            continue
        base_id = f"{doc.stem}#{section.anchor}" if section.anchor else doc.stem
        while base_id in seen:  # two sections with the same heading
            base_id += "-"
        seen.add(base_id)
        url = section.url or (f"{doc.url}#{section.anchor}" if section.anchor and doc.url else doc.url)
        pieces = [text] if section.whole else split_text(text, max_chars, overlap)
        for n, piece in enumerate(pieces, 1):
            chunks.append(Chunk(id=base_id if n == 1 else f"{base_id}~{n}", text=piece,
                                title=doc.title, section=section.heading, url=url,
                                locale=doc.locale, updated_at=doc.updated_at,
                                source=doc.source, anchor=section.anchor))
    return chunks
