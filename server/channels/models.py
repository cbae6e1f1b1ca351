"""The one shape every WhatsApp provider's webhook is turned into.

Provider modules (`meta`, `twilio`) parse their own payloads into these frozen dataclasses;
nothing past this boundary needs to know which provider a message came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

Provider = Literal["meta", "twilio"]
StatusName = Literal[
    "accepted", "scheduled", "queued", "sending", "sent", "delivered", "read", "played",
    "failed", "undelivered", "canceled", "deleted", "warning",
]
KNOWN_STATUSES: frozenset[str] = frozenset(get_args(StatusName))

SILENT_KINDS: frozenset[str] = frozenset({"reaction", "system", "revoke"})
"""Kinds that are stored but do not start an agent turn (see `InboundMessage.needs_turn`)."""


class MalformedPayload(ValueError):
    """A webhook body that is not the shape its provider documents; the message says where."""


def without_nul(value: Any) -> Any:
    """`value` with every NUL character replaced by U+FFFD. Postgres text and jsonb refuse NUL,
    so a message that carried one could never be stored, and its retries would fail forever."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a customer, whichever provider delivered it.

    `customer_key` identifies the conversation: the WhatsApp number's digits (wa_id) when known,
    else "bsuid:<business-scoped user id>" for a customer who shares only a username
    (`username`, Meta only; it can change, so it never keys anything).
    `text` is what the agent reads: the body, a caption, a reply title, or a bracketed
    placeholder such as "[image]" or "[location] Name, Address (lat, lon)".
    `media` (for image/audio/voice/video/document/sticker) has the keys id, url, mime_type,
    sha256, filename and voice; a value is None where the provider did not send it.
    """

    provider: Provider
    provider_message_id: str
    customer_key: str
    phone: str | None
    business_scoped_user_id: str | None
    profile_name: str | None
    kind: str
    text: str
    sent_at: datetime
    raw: dict[str, Any]
    username: str | None = None
    media: dict[str, Any] | None = None
    reply_to: str | None = None
    referral: dict[str, Any] | None = None
    reaction: dict[str, Any] | None = None
    errors: tuple[dict[str, Any], ...] = ()
    business_phone_number_id: str | None = None

    @property
    def needs_turn(self) -> bool:
        """Whether this message should start an agent turn.

        Not for reactions (added or removed: the customer said nothing new), system notices
        (e.g. "user changed number") or revoked (deleted) messages. Everything else does,
        including stickers, edits and unsupported types: the customer is waiting, and for an
        unsupported type the agent can at least say it cannot read that kind of message.
        """
        return self.kind not in SILENT_KINDS


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery receipt for a message we sent: sent, delivered, read, failed, ...

    `recipient` uses the same form as `InboundMessage.customer_key`. `billing` carries Meta's
    `conversation` and `pricing` objects when present. `outbox_id` is the outbox row the message
    was sent for, when the send said so (Meta echoes `biz_opaque_callback_data`; our Twilio
    status callback URL carries `outbox_id`): it settles a send whose response was lost.
    """

    provider: Provider
    provider_message_id: str
    status: StatusName
    recipient: str | None
    at: datetime
    raw: dict[str, Any]
    errors: tuple[dict[str, Any], ...] = ()
    billing: dict[str, Any] | None = None
    business_phone_number_id: str | None = None
    outbox_id: int | None = None

    @staticmethod
    def outbox_id_from(value: Any) -> int | None:
        """An outbox id from a callback's text; None for anything else (another sender's data)."""
        text = value.strip() if isinstance(value, str) else ""
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


@dataclass(frozen=True, slots=True)
class WebhookBatch:
    """Everything one webhook delivery carried. `ignored` describes the parts that were
    neither messages nor statuses (other webhook fields, value-level errors, unknown statuses)."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    ignored: tuple[str, ...] = field(default=())


def customer_key(phone: str | None, business_scoped_user_id: str | None) -> str:
    """The conversation key: phone digits when known, else the business-scoped user id."""
    if phone:
        return phone
    if business_scoped_user_id:
        return f"bsuid:{business_scoped_user_id}"
    raise MalformedPayload("a customer has neither a phone number nor a business-scoped user id")


def unix_time(value: Any, where: str) -> datetime:
    """A UTC datetime from unix seconds given as a string or number."""
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError) as error:
        raise MalformedPayload(f"{where}: timestamp {value!r} is not unix seconds") from error


def error_info(code: Any, title: Any = None, message: Any = None, details: Any = None) -> dict:
    """One provider error as {"code", "title", "message", "details"}; code is an int when numeric."""
    if isinstance(code, str) and code.strip().isdigit():
        code = int(code)
    return {"code": code, "title": title, "message": message, "details": details}
