from knowledge.chunking import Document, Section, chunks_of, split_text


def test_short_text_is_one_piece():
    assert split_text("one short paragraph", max_chars=100) == ["one short paragraph"]


def test_long_text_is_split_at_paragraphs_with_overlap():
    paragraphs = [f"Paragraph {n} " + "word " * 15 for n in range(6)]
    pieces = split_text("\n\n".join(p.strip() for p in paragraphs), max_chars=200, overlap=100)
    assert len(pieces) > 1
    assert all(len(p) <= 200 for p in pieces)
    for before, after in zip(pieces, pieces[1:], strict=False):
        # each piece opens with the last paragraph of the one before
        assert after.startswith(before.split("\n\n")[-1])


def test_a_wall_of_text_falls_back_to_sentences():
    wall = " ".join(f"Sentence number {n} is here." for n in range(40))
    pieces = split_text(wall, max_chars=120, overlap=0)
    assert all(len(p) <= 120 for p in pieces)
    assert pieces[0].startswith("Sentence number 0") and pieces[-1].endswith("39 is here.")


def _doc(*sections: Section) -> Document:
    return Document("guide", "Guide", "https://help.test/guide", "/docs/guide.md",
                    sections=list(sections))


def test_ids_follow_sections_and_long_sections_get_numbered_pieces():
    long_text = "\n\n".join(f"Point {n}. " + "detail " * 30 for n in range(5))
    chunks = chunks_of(_doc(Section("Guide", "", "Intro."), Section("Long part", "long-part", long_text)),
                       max_chars=300, overlap=0)
    ids = [c.id for c in chunks]
    assert ids[:3] == ["guide", "guide#long-part", "guide#long-part~2"]
    assert all(c.url == "https://help.test/guide#long-part" for c in chunks[1:])
    assert chunks[0].url == "https://help.test/guide"


def test_faq_entries_stay_whole_and_keep_their_own_url():
    answer = "Yes. " + "Really, yes. " * 100
    [chunk] = chunks_of(_doc(Section("Q?", "q", answer, url="https://help.test/q", whole=True)),
                        max_chars=100)
    assert chunk.text == answer.strip() and chunk.url == "https://help.test/q"


def test_metadata_carries_what_a_citation_needs_and_the_hash_tracks_content():
    [a] = chunks_of(_doc(Section("Returns", "returns", "30 days.")))
    [b] = chunks_of(_doc(Section("Returns", "returns", "14 days.")))
    meta = a.metadata()
    assert {meta[k] for k in ("title", "section", "anchor", "source")} == \
        {"Guide", "Returns", "returns", "/docs/guide.md"}
    assert {"url", "locale", "updated_at", "content_hash"} <= set(meta)
    assert a.content_hash != b.content_hash
    assert a.content_hash == chunks_of(_doc(Section("Returns", "returns", "30 days.")))[0].content_hash
