"""What counts as a CSAT rating in a customer's reply (`server.desk.csat.parse`)."""

from __future__ import annotations

import pytest

from server.desk.csat import Rating, parse

PURE = [
    ("5", 5, "digit"), (" 1 ", 1, "digit"), ("4!", 4, "digit"), ("3.", 3, "digit"),
    ("５", 5, "digit"),  # full-width digit
    ("5/5", 5, "digit"), ("4 / 5", 4, "digit"), ("3 out of 5", 3, "digit"), ("2 of five", 2, "digit"),
    ("5 stars", 5, "digit"), ("1 star", 1, "digit"), ("4⭐", 4, "digit"),
    ("5, thanks!", 5, "digit"), ("4 - great service", 4, "digit"), ("5 thank you so much 🙏", 5, "digit"),
    ("I'd give it a 4", 4, "digit"), ("I’d give you a 5", 5, "digit"), ("rating: 3", 3, "digit"),
    ("five", 5, "word"), ("Four!", 4, "word"), ("three out of five", 3, "word"), ("TWO", 2, "word"),
    ("⭐⭐⭐⭐", 4, "emoji"), ("⭐️⭐️⭐️⭐️⭐️", 5, "emoji"), ("⭐ ⭐ ⭐", 3, "emoji"), ("★★★☆☆", 3, "emoji"),
    ("🌟", 1, "emoji"), ("⭐⭐⭐⭐⭐ thanks", 5, "emoji"),
    ("😀", 5, "emoji"), ("😀😀", 5, "emoji"), ("👍", 5, "emoji"), ("👍🏽", 5, "emoji"), ("❤️", 5, "emoji"),
    ("🙂", 4, "emoji"), ("😐", 3, "emoji"), ("🙁", 2, "emoji"), ("☹️", 2, "emoji"),
    ("😡", 1, "emoji"), ("👎", 1, "emoji"), ("😡😡😡", 1, "emoji"),
]


@pytest.mark.parametrize("text, score, kind", PURE)
def test_pure_ratings(text, score, kind):
    assert parse(text) == Rating(score, kind, pure=True)


MIXED = [  # an explicit rating, then something to answer
    ("5 stars but my sofa is still broken", 5),
    ("4/5, when does my refund arrive?", 4),
    ("3 out of 5. The delivery was late", 3),
    ("⭐⭐ the lamp still flickers", 2),
    ("I'd give it a 2, my order HP-10001 never came", 2),
]


@pytest.mark.parametrize("text, score", MIXED)
def test_an_explicit_rating_with_a_question_is_both(text, score):
    assert parse(text) == Rating(score, parse(text).kind, pure=False)


NOT_RATINGS = [
    "2 sofas arrived broken", "one more question: where is my order?", "1st of May",
    "10", "0", "6", "4.5", "3,5", "5/10", "5/50", "55", "12345", "HP-10001", "",
    "   ", "where is my refund?", "thanks", "hello 5", "my order is 5 days late",
    "😡 my sofa is still broken",  # a face is a rating only alone: this is a complaint
    "⭐⭐⭐⭐⭐⭐", "☆☆☆", "5 5 5",
    "5" + " thanks" * 100,  # far longer than a rating
]


@pytest.mark.parametrize("text", NOT_RATINGS)
def test_not_ratings(text):
    assert parse(text) is None
