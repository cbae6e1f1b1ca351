from pathlib import Path

import pytest

from knowledge.faq import parse_faq_json
from knowledge.formats import FormatError
from knowledge.sources import Unsupported, expand, load

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "knowledge"


def _doc(name: str):
    return load(expand([str(FIXTURES / name)])[0])


def test_markdown_sections_and_front_matter():
    doc = _doc("care-guide.md")
    assert (doc.title, doc.url, doc.updated_at) == ("Care guide", "https://help.example.test/care-guide",
                                                  "2026-10-01")
    assert [s.anchor for s in doc.sections] == ["", "oak-furniture", "velvet-sofas"]


def test_html_keeps_heading_ids_and_drops_page_chrome():
    doc = _doc("store-hours.html")
    assert doc.title == "Store hours" and doc.locale == "en"
    assert [s.anchor for s in doc.sections] == ["", "weekday-hours", "bank-holidays"]
    text = " ".join(s.text for s in doc.sections)
    assert "9am to 8pm" in text and "var x" not in text and "Copyright" not in text


def test_pdf_pages_become_deep_linked_sections():
    doc = _doc("returns-leaflet.pdf")
    assert doc.sections[0].anchor == "page=1"
    assert "prepaid label" in doc.sections[0].text


def test_plain_text_is_one_section():
    doc = _doc("warranty-notes.txt")
    assert len(doc.sections) == 1 and "ten year warranty" in doc.sections[0].text


def test_faq_csv_and_json_give_one_section_per_entry():
    csv_doc, json_doc = _doc("faq.csv"), _doc("price-faq.json")
    assert [s.url for s in csv_doc.sections] == ["https://help.example.test/gift-vouchers",
                                                "https://help.example.test/collect#free"]
    assert all(s.whole for s in csv_doc.sections + json_doc.sections)
    assert "7 days" in json_doc.sections[0].text


def test_bad_faq_json_is_a_format_error():
    with pytest.raises(FormatError, match="question"):
        parse_faq_json(b'[{"question": "no answer"}]', "faq", "x.json", "")
    with pytest.raises(FormatError, match="invalid JSON"):
        parse_faq_json(b"{nope", "faq", "x.json", "")


def test_unknown_formats_are_unsupported(tmp_path):
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG")
    with pytest.raises(Unsupported):
        load(expand([str(image)])[0])


def test_html_without_paragraph_tags_keeps_its_text():
    from knowledge.formats import parse_html

    doc = parse_html(b"<html><body><div>Parcels leave our warehouse daily.</div></body></html>",
                     "shipping", "s.html", "https://x.test/s")
    assert doc.title == "Shipping" and "warehouse daily" in doc.sections[0].text
