"""FAQ files (CSV or JSON rows of question, answer, url): one whole chunk per entry."""

from __future__ import annotations

import csv
import io
import json

from knowledge.chunking import Document, Section, anchor
from knowledge.formats import FormatError


def _faq(rows: list[dict], stem: str, source: str, url: str) -> Document:
    """Each question/answer pair is one whole chunk: splitting it would orphan the answer."""
    sections = []
    for n, row in enumerate(rows, 1):
        question, answer = str(row.get("question") or "").strip(), str(row.get("answer") or "").strip()
        if not question or not answer:
            raise FormatError(f"FAQ entry {n} needs both a question and an answer")
        sections.append(Section(question, anchor(question), f"{question}\n{answer}",
                                url=str(row.get("url") or ""), whole=True))
    return Document(stem, "FAQ", url, source, sections=sections)


def parse_faq_csv(content: bytes, stem: str, source: str, url: str) -> Document:
    """An FAQ in CSV (question, answer columns) as a document with one section per question."""
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    if rows and not {"question", "answer"} <= set(rows[0]):
        raise FormatError("FAQ CSV needs question and answer columns")
    return _faq(rows, stem, source, url)


def parse_faq_json(content: bytes, stem: str, source: str, url: str) -> Document:
    """An FAQ in JSON (a list of question/answer objects) as a document with one section per
    question."""
    try:
        data = json.loads(content)
    except json.JSONDecodeError as error:
        raise FormatError(f"invalid JSON ({error.msg} at line {error.lineno})") from error
    rows = data.get("faq", data.get("entries")) if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise FormatError("FAQ JSON must be a list of {question, answer, url} objects")
    return _faq(rows, stem, source, url)
