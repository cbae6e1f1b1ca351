from graph.base.extractive import best_answer, sentences, terms


def test_markdown_is_flattened_to_sentences():
    text = "Steps:\n1. **Pack** it well.\n2. Drop it off. We email you."
    assert sentences(text) == ["Steps:", "Pack it well.", "Drop it off.", "We email you."]


def test_terms_drop_stopwords_and_stem():
    assert terms("Where are my refunds?") == {"refund"}


def test_best_answer_prefers_the_matching_section():
    passages = [
        {"id": "a", "title": "Delivery", "section": "Costs", "text": "Delivery costs £4.95."},
        {"id": "b", "title": "Refunds", "section": "Refund timing",
         "text": "Your refund arrives within 5-7 working days. Refund emails follow."},
    ]
    text, cited = best_answer("when does my refund arrive", passages)
    assert cited == ["b"] and "5-7 working days" in text


def test_no_answer_without_overlap():
    assert best_answer("llama grooming", [{"id": "a", "title": "t", "section": "s",
                                           "text": "Delivery costs £4.95."}]) is None
