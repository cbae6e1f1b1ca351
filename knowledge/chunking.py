"""Turn help-center Markdown into section chunks that can be cited and deep-linked."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)
_HEADING = re.compile(r"^(#{2,3})\s+(.+?)\s*$", re.M)


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

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def metadata(self) -> dict[str, str]:
        return {"title": self.title, "section": self.section, "url": self.url,
                "locale": self.locale, "updated_at": self.updated_at, "source": self.source,
                "content_hash": self.content_hash}


def anchor(heading: str) -> str:
    """The URL fragment a help center gives a heading."""
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def parse_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Front-matter fields and the body after them."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in match.group(1).splitlines())
        if key.strip()
    )
    return fields, text[match.end():]


def markdown_chunks(path: Path) -> list[Chunk]:
    """One chunk for the intro and one per `##`/`###` section of a Markdown document."""
    fields, body = parse_front_matter(path.read_text(encoding="utf-8"))
    title = fields.get("title", path.stem.replace("-", " ").capitalize())
    url = fields.get("url", path.resolve().as_uri())
    base = dict(title=title, locale=fields.get("locale", "en"),
                updated_at=fields.get("updated_at", ""), source=str(path))
    cuts = [(m.start(), m.group(2)) for m in _HEADING.finditer(body)]
    spans = [(0, title, cuts[0][0] if cuts else len(body))]
    spans += [(start, head, cuts[i + 1][0] if i + 1 < len(cuts) else len(body))
              for i, (start, head) in enumerate(cuts)]
    chunks = []
    for start, heading, end in spans:
        text = _HEADING.sub("", body[start:end]).strip()
        if not text:
            continue
        section_anchor = anchor(heading) if start else ""
        chunks.append(Chunk(
            id=f"{path.stem}#{section_anchor}" if section_anchor else path.stem,
            text=text, section=heading,
            url=f"{url}#{section_anchor}" if section_anchor else url, **base))
    return chunks
