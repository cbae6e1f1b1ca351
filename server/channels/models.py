"""The one shape every WhatsApp provider's webhook is turned into.

Provider modules (`meta`, `twilio`) parse their own payloads into these frozen dataclasses;
nothing past this boundary needs to know which provider a message came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeGuard, get_args

from graph.base.conversation import ConversationId
from server.request_guards import storable

Provider = Literal["meta", "twilio"]
StatusName = Literal[
    "accepted", "scheduled", "queued", "sending", "sent", "delivered", "read", "played",
    "failed", "undelivered", "canceled", "deleted", "warning",
]
KNOWN_STATUSES: frozenset[str] = frozenset(get_args(StatusName))


def is_status(value: object) -> TypeGuard[StatusName]:
    """A delivery status this server knows; any other a provider sends is ignored."""
    return isinstance(value, str) and value in KNOWN_STATUSES

MAX_TEXT_CHARS = 4096
"""WhatsApp's own limit on a text message; longer text (a forged or odd payload) is cut to it."""
MAX_ID_CHARS = 256
"""Provider message ids are about 30-60 characters; Postgres indexes refuse very long ones."""
MAX_PHONE_DIGITS = 20
"""E.164 numbers have at most 15 digits; a little room, but no megabyte "number"."""
MAX_USER_ID_CHARS = 128

SILENT_KINDS: frozenset[str] = frozenset({"reaction", "system", "revoke"})
"""Kinds that are stored but do not start an agent turn (see `InboundMessage.needs_turn`)."""


class MalformedPayload(ValueError):
    """A webhook body that is not the shape its provider documents; the message says where."""


def without_nul(value: Any) -> Any:
    """`value` with every NUL character and lone surrogate replaced by U+FFFD. Postgres text and
    jsonb refuse them, so a message that carried one could never be stored, and its retries would
    fail forever (see `server.request_guards.storable`)."""
    return storable(value)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a customer, whichever provider delivered it.

    `conversation_id` (graph/base/conversation.py) is the WhatsApp number's digits (wa_id) when
    known, else "bsuid:<business-scoped user id>" for a customer who shares only a username
    (`username`, Meta only; it can change, so it never keys anything). `phone` is the real
    number or None; a BSUID is never put there.
    `text` is what the agent reads: the body, a reply title, or a bracketed placeholder such as
    "[location] Name, Address (lat, lon)"; media reads "[image] <caption>" (graph/base/media_text.py).
    `media` (for image/audio/voice/video/document/sticker) has the keys id, url, mime_type,
    sha256, filename and voice; a value is None where the provider did not send it. The file
    itself is fetched after intake (server/media/).
    """

    provider: Provider
    provider_message_id: str
    conversation_id: ConversationId
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
    truncated_from: int | None = None
    """The text's length before it was cut to MAX_TEXT_CHARS; None when it was not cut."""

    def __post_init__(self) -> None:
        _check_id(self.provider_message_id, "message id")
        if not isinstance(self.conversation_id, str) or not 0 < len(self.conversation_id) <= 160:
            raise MalformedPayload("the conversation id is not a short string")
        if not isinstance(self.text, str):
            raise MalformedPayload(f"message text must be a string, not {type(self.text).__name__}")
        if len(self.text) > MAX_TEXT_CHARS:  # frozen: set through object, as dataclasses do
            object.__setattr__(self, "truncated_from", len(self.text))
            object.__setattr__(self, "text", self.text[:MAX_TEXT_CHARS])

    @property
    def needs_turn(self) -> bool:
        """Whether this message should start an agent turn.

        Not for reactions (added or removed: the customer said nothing new), system notices
        (e.g. "user changed number") or revoked (deleted) messages. Everything else does,
        including stickers, edits and unsupported types: the customer is waiting, and for an
        unsupported type the agent can at least say it cannot read that kind of message.
        Not for blank text either (WhatsApp sends none; a payload that does has said nothing).
        """
        return self.kind not in SILENT_KINDS and not self.text.isspace() and self.text != ""


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery receipt for a message we sent: sent, delivered, read, failed, ...

    `recipient` is the conversation id, as `InboundMessage.conversation_id`. `billing` carries
    Meta's `conversation` and `pricing` objects when present. `outbox_id` is the outbox row the message
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

    def __post_init__(self) -> None:
        _check_id(self.provider_message_id, "status message id")

    @staticmethod
    def outbox_id_from(value: Any) -> int | None:
        """An outbox id from a callback's text; None for anything else (another sender's data)."""
        text = value.strip() if isinstance(value, str) else ""
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


@dataclass(frozen=True, slots=True)
class WebhookBatch:
    """Everything one webhook delivery carried. `ignored` describes the parts that were
    neither messages nor statuses (other webhook fields, value-level errors, unknown statuses);
    `rejected` the malformed messages and statuses left out while the rest was kept."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    ignored: tuple[str, ...] = field(default=())
    rejected: tuple[str, ...] = field(default=())


def unix_time(value: Any, where: str, now: datetime | None = None) -> datetime:
    """A UTC datetime from unix seconds given as a string or number (fractions allowed).

    A time after `now` (the arrival time; default the clock) becomes `now`: a sender's clock, or
    a forged payload, must not order a message after ones that come later. A time long past is
    kept (the stale-message rule handles it) back to year 1; earlier is malformed."""
    seconds = None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except ValueError:
            seconds = None
    if seconds is None or not math.isfinite(seconds):
        raise MalformedPayload(f"{where}: timestamp {short(value)} is not unix seconds")
    now = now or datetime.now(UTC)
    if seconds >= now.timestamp():
        return now
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise MalformedPayload(f"{where}: timestamp {short(value)} is out of range") from error


def phone_digits(value: Any, where: str) -> str | None:
    """A WhatsApp number as bare digits ("+44..." and " 44..." both become "44..."); None when
    absent; MalformedPayload when it is not a phone number."""
    if value is None or value == "":
        return None
    digits = str(value).strip().lstrip("+") if isinstance(value, str | int) else ""
    if not (digits.isascii() and digits.isdigit() and len(digits) <= MAX_PHONE_DIGITS):
        # Never the value itself: it is personal data, and reasons are logged.
        raise MalformedPayload(f"{where}: {kind_of(value)} is not a phone number")
    return digits


def user_id(value: Any, where: str) -> str | None:
    """A business-scoped user id, or None when absent; MalformedPayload when it is not one."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_USER_ID_CHARS or not value.isprintable():
        raise MalformedPayload(f"{where}: user id ({kind_of(value)}) is not a short string")
    return value


def message_id(value: Any, where: str) -> str:
    """A provider's message id as text (a number is accepted), or MalformedPayload."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise MalformedPayload(f"{where}: id must be a string, not {type(value).__name__}")
    return value


def _check_id(value: Any, what: str) -> None:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        raise MalformedPayload(f"the {what} must be a string of 1 to {MAX_ID_CHARS} characters")


def kind_of(value: Any) -> str:
    """What `value` is, without what it says: "a str of 300 characters", "a dict"."""
    if isinstance(value, str):
        return f"a str of {len(value)} characters"
    return f"a {type(value).__name__}"


def short(value: Any, limit: int = 40) -> str:
    """`value`'s repr cut to `limit` characters, for error messages that echo input."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def error_info(code: Any, title: Any = None, message: Any = None, details: Any = None) -> dict:
    """One provider error as {"code", "title", "message", "details"}; code is an int when numeric."""
    if isinstance(code, str) and code.strip().isascii() and code.strip().isdigit() \
            and len(code.strip()) <= 18:
        code = int(code)
    return {"code": code, "title": title, "message": message, "details": details}
