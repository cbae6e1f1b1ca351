"""What `switchboard forget` takes as a customer: numbers in any format become the digits the
webhook parsers key conversations by; bsuids keep their prefix; refs are looked up; anything
else is refused without being repeated."""

from __future__ import annotations

import pytest

from server.privacy.identify import NotAnIdentifier, conversation_key


@pytest.mark.parametrize("typed", ["+44 7700 900123", "447700900123", "whatsapp:+447700900123",
                                   "+44 (7700) 900-123", " 44.7700.900.123 ", "+44/7700/900123"])
def test_a_number_in_any_format_is_its_digits(typed):
    assert conversation_key(typed) == "447700900123"


def test_a_bsuid_keeps_its_prefix_and_a_ref_is_looked_up():
    assert conversation_key("bsuid:US.13491208655302741918") == "bsuid:US.13491208655302741918"
    assert conversation_key("BSUID:GB.1") == "bsuid:GB.1"
    assert conversation_key("c_0123456789abcdef0123") is None


@pytest.mark.parametrize("typed", ["", "hello", "12345", "+44 7700 9001x3", "c_0123",
                                   "bsuid:", "bsuid:\x00bad", "1" * 40])
def test_anything_else_is_refused_without_repeating_it(typed):
    with pytest.raises(NotAnIdentifier) as refused:
        conversation_key(typed)
    assert typed.strip() == "" or typed.strip() not in str(refused.value)
