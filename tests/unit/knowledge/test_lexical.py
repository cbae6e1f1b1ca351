from knowledge.lexical import BM25, tokenize

DOCS = ["Klarna lets you pay in three instalments.",
        "Refunds reach your card within 5-7 working days.",
        "Our stores open at 9am. Stores close at 8pm.",
        "Gift cards never expire."]


def test_tokenize_drops_stop_words_and_stems():
    assert tokenize("How do I return my items?") == ["return", "item"]


def test_rare_word_ranks_its_document_first():
    assert BM25(DOCS).top("can I use klarna", 2) == [(0, BM25(DOCS).top("klarna", 1)[0][1])]


def test_documents_without_query_words_are_not_returned():
    assert BM25(DOCS).top("weather tomorrow", 4) == []


def test_mask_excludes_documents():
    import numpy as np

    assert BM25(DOCS).top("stores refunds", 4, allowed=np.array([True, False, True, True]))[0][0] == 2


def test_typos_map_to_the_closest_known_word():
    assert BM25(DOCS).top("refnds", 1)[0][0] == 1


def test_a_word_only_one_document_has_covers_most_of_a_question():
    docs = [*DOCS, "Returns leaflet. Pack your return in the original box and attach the pre\ufb01lled label."]
    share = BM25(docs).matched_share("is there a prefilled label for my return?")
    assert share[4] > 0.6 and share[:4].max() < 0.6  # the ligature of the PDF text is folded
    assert BM25(docs).matched_share("who won the football last night").max() < 0.6
