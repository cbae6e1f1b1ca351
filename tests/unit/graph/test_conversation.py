"""The conversation id and what follows from it: the real phone number and the address replies
go to (its LangGraph thread: tests/unit/server/test_conversation_ids.py)."""

from __future__ import annotations

import pytest

from graph.base.conversation import (
    ConversationId,
    business_scoped_user_id_of,
    conversation_id,
    phone_of,
    recipient_of,
)
from graph.context import Context

NUMBER = conversation_id("447700900123", "US.13491208655302741918")
USERNAME_ONLY = conversation_id(None, "US.13491208655302741918")


def test_a_known_number_keys_the_conversation_else_the_business_scoped_user_id():
    assert NUMBER == "447700900123"
    assert USERNAME_ONLY == "bsuid:US.13491208655302741918"
    with pytest.raises(ValueError, match="neither a phone number"):
        conversation_id(None, None)


def test_a_business_scoped_user_id_is_never_a_phone_number():
    assert phone_of(NUMBER) == "447700900123"
    assert phone_of(USERNAME_ONLY) is None
    assert business_scoped_user_id_of(USERNAME_ONLY) == "US.13491208655302741918"
    assert business_scoped_user_id_of(NUMBER) is None


def test_replies_go_to_the_number_else_to_the_bare_business_scoped_user_id():
    assert recipient_of(NUMBER) == "447700900123"
    # pywa sends this shape as Meta's `recipient` field; "bsuid:..." it would take for a group.
    assert recipient_of(USERNAME_ONLY) == "US.13491208655302741918"
    from pywa.types.sent_update import RecipientType

    assert RecipientType.from_recipient(recipient_of(USERNAME_ONLY)) is RecipientType.BSUID
    assert RecipientType.from_recipient(recipient_of(NUMBER)) is RecipientType.WA_ID


def test_the_context_carries_the_id_and_the_real_number_apart():
    context = Context(conversation_id=USERNAME_ONLY, phone=phone_of(USERNAME_ONLY))
    assert context.conversation_id == ConversationId("bsuid:US.13491208655302741918")
    assert context.phone is None
