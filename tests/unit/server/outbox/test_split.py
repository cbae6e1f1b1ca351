"""Long replies are cut into WhatsApp-sized parts at the most natural boundary available."""

from __future__ import annotations

from server.outbox import WHATSAPP_TEXT_LIMIT, split_for_whatsapp


def words(parts: list[str]) -> list[str]:
    return " ".join(parts).split()


def test_short_text_is_one_part():
    assert split_for_whatsapp("Your order shipped.") == ["Your order shipped."]
    assert split_for_whatsapp("x" * WHATSAPP_TEXT_LIMIT) == ["x" * WHATSAPP_TEXT_LIMIT]


def test_blank_text_is_no_part():
    assert split_for_whatsapp("  \n ") == []


def test_cuts_at_the_last_paragraph_that_fits():
    first, second = "a" * 3000, "b" * 3000
    assert split_for_whatsapp(f"{first}\n\n{second}") == [first, second]


def test_prefers_a_sentence_to_an_early_paragraph():
    # A paragraph break in the first half would leave a stub; the last sentence end is used.
    text = "Intro.\n\n" + "Sentence number one is here. " * 200
    parts = split_for_whatsapp(text, limit=1000)
    assert all(len(p) <= 1000 for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert len(parts[0]) > 500
    assert words(parts) == text.split()


def test_falls_back_to_word_boundaries():
    text = "word " * 2000  # no sentence ends at all
    parts = split_for_whatsapp(text)
    assert len(parts) == 3
    assert all(len(p) <= WHATSAPP_TEXT_LIMIT and not p.endswith(" ") for p in parts)
    assert words(parts) == text.split()


def test_hard_cut_when_there_is_no_boundary():
    text = "x" * (2 * WHATSAPP_TEXT_LIMIT + 10)
    parts = split_for_whatsapp(text)
    assert [len(p) for p in parts] == [WHATSAPP_TEXT_LIMIT, WHATSAPP_TEXT_LIMIT, 10]
    assert "".join(parts) == text


def test_boundary_right_after_the_limit_still_fits():
    text = "a" * WHATSAPP_TEXT_LIMIT + " tail"
    assert split_for_whatsapp(text) == ["a" * WHATSAPP_TEXT_LIMIT, "tail"]


def test_every_part_is_within_the_limit_for_mixed_text():
    paragraph = "Refunds take 5-10 days! Check the status here? Yes. " * 30
    text = "\n\n".join([paragraph] * 12)
    parts = split_for_whatsapp(text)
    assert len(parts) > 1
    assert all(0 < len(p) <= WHATSAPP_TEXT_LIMIT for p in parts)
    assert words(parts) == text.split()
