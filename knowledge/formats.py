"""Parsers from documents (Markdown, text, HTML, PDF) to a `Document` of headed sections.

They take the raw content plus where it came from, and never touch the network or disk,
so the same parser serves a file and a fetched URL.
"""

from __future__ import annotations

import io
import re

from knowledge.chunking import Document, Section, anchor

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)
_MD_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$", re.M)


class FormatError(ValueError):
    """The content cannot be read as the format its name or type claims."""


def parse_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Front-matter fields and the body after them."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields = {key.strip(): value.strip()
              for key, _, value in (line.partition(":") for line in match.group(1).splitlines())
              if key.strip()}
    return fields, text[match.end():]


def _title_from(stem: str) -> str:
    return stem.replace("-", " ").replace("_", " ").capitalize()


def parse_markdown(content: bytes, stem: str, source: str, url: str) -> Document:
    """Sections at `##`/`###` headings; a `# ` heading (or front matter) gives the title."""
    fields, body = parse_front_matter(content.decode("utf-8"))
    cuts = list(_MD_HEADING.finditer(body))
    h1 = next((m.group(2) for m in cuts if len(m.group(1)) == 1), None)
    title = fields.get("title") or h1 or _title_from(stem)
    cuts = [m for m in cuts if len(m.group(1)) > 1]
    sections = [Section(title, "", _MD_HEADING.sub("", body[:cuts[0].start() if cuts else None]))]
    for i, match in enumerate(cuts):
        end = cuts[i + 1].start() if i + 1 < len(cuts) else len(body)
        sections.append(Section(match.group(2), anchor(match.group(2)), body[match.end():end]))
    return Document(stem, title, fields.get("url", url), source, fields.get("locale", "en"),
                    fields.get("updated_at", ""), sections)


def parse_text(content: bytes, stem: str, source: str, url: str) -> Document:
    """Plain text has no structure to follow: one section, split by size."""
    text = content.decode("utf-8", errors="replace")
    return Document(stem, _title_from(stem), url, source, sections=[Section(_title_from(stem), "", text)])


def parse_html(content: bytes, stem: str, source: str, url: str) -> Document:
    """Sections at h2/h3; anchors are the headings' own ids when they have them."""
    from bs4 import BeautifulSoup, Tag

    soup = BeautifulSoup(content, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript"]):
        tag.decompose()
    body = soup.find("main") or soup.find("article") or soup.body or soup
    h1 = body.find("h1")
    title = (h1.get_text(" ", strip=True) if h1 else "") or \
        (soup.title.get_text(strip=True) if soup.title else "") or _title_from(stem)
    html_tag = soup.find("html")
    lang = html_tag.get("lang") if isinstance(html_tag, Tag) else None
    locale = lang if isinstance(lang, str) and lang else "en"
    sections = [Section(title, "", "")]
    for element in body.find_all(["h2", "h3", "p", "li", "td", "pre", "blockquote"]):
        if element.name in ("h2", "h3"):
            heading = element.get_text(" ", strip=True)
            element_id = element.get("id")
            sections.append(Section(
                heading, element_id if isinstance(element_id, str) and element_id else anchor(heading),
                ""))
        elif not element.find_parent(["li", "td", "blockquote"]) or element.name == "li":
            last = sections[-1]
            line = element.get_text(" ", strip=True)
            line = f"- {line}" if element.name == "li" else line
            sections[-1] = Section(last.heading, last.anchor, f"{last.text}\n\n{line}".strip())
    if not any(section.text for section in sections):  # text straight in <div>s: take it all
        sections = [Section(title, "", body.get_text("\n", strip=True))]
    return Document(stem, title, url, source, locale.split("-")[0], sections=sections)


def parse_pdf(content: bytes, stem: str, source: str, url: str) -> Document:
    """One section per page, deep-linked with `#page=N`, which PDF viewers honour."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(content))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or _title_from(stem)
    except (PdfReadError, ValueError, KeyError) as error:
        raise FormatError(f"not a readable PDF ({error})") from error
    return Document(stem, title, url, source, sections=[
        Section(f"Page {n}", f"page={n}", text) for n, text in enumerate(pages, 1)])
