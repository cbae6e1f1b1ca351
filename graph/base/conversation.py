"""Who a conversation is with: the conversation id, and everything derived from it, once.

A conversation is keyed by the customer's WhatsApp number (its digits, Meta's wa_id) whenever
the webhook carries one, else by "bsuid:<business-scoped user id>" for a customer who shares
only a username. From that id follow the real phone number (None for a username-only
customer) and the address a reply is sent to. Outside our own tables the id never shows: URLs,
alerts, log lines and the LangGraph thread (so checkpoints) carry its opaque ref instead
(server/conversation_ids.py `ref`, `thread_id`).

The phone number is a function of the id by construction: an id is a number exactly when the
webhook gave one. So code that needs the number asks `phone_of`, and a BSUID is never handed on
as if it were a phone number.
"""

from __future__ import annotations

from typing import NewType

ConversationId = NewType("ConversationId", str)
"""The key of one customer's conversation (Postgres `conversation_key`/`key` columns, Redis
members, leases). A NewType rather than a class: the id is stored and passed as text at every
one of those boundaries, where a class would need converting each time; the NewType costs
nothing there and still lets mypy refuse a bare phone string where an id is expected."""

BSUID_PREFIX = "bsuid:"


def conversation_id(phone: str | None, business_scoped_user_id: str | None = None) -> ConversationId:
    """The id of the conversation with a customer: their number's digits when known, else their
    business-scoped user id. ValueError when there is neither."""
    if phone:
        return ConversationId(phone)
    if business_scoped_user_id:
        return ConversationId(BSUID_PREFIX + business_scoped_user_id)
    raise ValueError("a customer has neither a phone number nor a business-scoped user id")


def phone_of(conversation: ConversationId) -> str | None:
    """The customer's real WhatsApp number (digits), or None for a username-only customer."""
    return None if conversation.startswith(BSUID_PREFIX) else conversation


def business_scoped_user_id_of(conversation: ConversationId) -> str | None:
    """The customer's business-scoped user id when the conversation is keyed by it, else None."""
    if conversation.startswith(BSUID_PREFIX):
        return conversation.removeprefix(BSUID_PREFIX)
    return None


def recipient_of(conversation: ConversationId) -> str:
    """Where WhatsApp replies of this conversation go: the number's digits, else the bare
    business-scoped user id ("US.13491208655302741918"). The Cloud API client (pywa) sends a
    BSUID as Meta's `recipient` field and digits as `to`, by their shape; "bsuid:..." would be
    neither. Twilio conversations always have a number."""
    return phone_of(conversation) or conversation.removeprefix(BSUID_PREFIX)
