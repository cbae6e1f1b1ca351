"""What of a provider's raw message JSON is kept at rest: the envelope, never the content.

The parser has already turned the message into `InboundMessage.text` (the inbox's `body`, raw
only until its turn commits, then redacted). The stored `payload` is for tracing a message back
to its provider: ids, types, timestamps, media ids and MIME types, error codes. Everything the
customer typed or shared (text, captions, button and list titles, form answers, locations,
shared contacts, profile names, media URLs) is dropped, and so is any field not named here, so
a field a provider adds later is dropped too until someone decides it is safe to keep.
"""

from __future__ import annotations

import re
from typing import Any

from graph.base.pii import redact

DROPPED = "[dropped]"
MINIMISED = "_minimised"
"""Marks a payload kept by these rules (older rows held the provider's whole JSON)."""

META_KEEP = frozenset({
    "id", "from", "from_user_id", "user_id", "wa_id", "timestamp", "type", "mime_type", "sha256",
    "voice", "animated", "message_id", "original_message_id", "forwarded", "frequently_forwarded",
    "code", "catalog_id", "product_retailer_id", "quantity", "currency", "source_type",
    "media_type", "status", "recipient_id", "recipient_user_id",
})
"""Meta message fields set by WhatsApp, not typed by the customer."""
META_NESTED = frozenset({
    "context", "text", "image", "audio", "video", "document", "sticker", "location", "contacts",
    "interactive", "button", "button_reply", "list_reply", "nfm_reply", "reaction", "order",
    "product_items", "system", "edit", "message", "revoke", "errors", "referral", "unsupported",
    "request_welcome", "identity",
})
"""Objects walked into (their kept fields survive, the rest is dropped)."""

TWILIO_KEEP = frozenset({
    "MessageSid", "SmsMessageSid", "SmsSid", "AccountSid", "MessagingServiceSid", "WaId", "From",
    "To", "NumMedia", "NumSegments", "ReferralNumMedia", "MessageType", "SmsStatus", "ApiVersion",
    "OriginalRepliedMessageSid", "OriginalRepliedMessageSender", "Forwarded", "FrequentlyForwarded",
})
TWILIO_MEDIA_TYPE = re.compile(r"MediaContentType\d{1,2}")
IDENTITY = frozenset({"from", "wa_id", "recipient_id", "timestamp", "id", "message_id",
                      "original_message_id", "From", "To", "WaId", "OriginalRepliedMessageSender",
                      "MessageSid", "SmsMessageSid", "SmsSid", "AccountSid", "MessagingServiceSid",
                      "OriginalRepliedMessageSid"})
"""Kept as they are, unchecked: the sender's number (the conversation key, stored beside the
payload anyway), times, and ids set by WhatsApp or the business (a signed webhook's ids are
not the customer's to choose); the phone and card patterns would take many of them for numbers."""
_SAFE_VALUE = re.compile(r"[\w.:+=/@-]{1,256}(?:; ?[\w.+=-]{1,64})?")
"""What a kept field's value may look like: an id, a type (audio/ogg; codecs=opus) or a
number, never a sentence."""


def minimise(provider: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The provider's message JSON with only its envelope left (see the module docstring)."""
    if provider == "twilio":
        kept = {key: _scalar(value, key) for key, value in raw.items()
                if key in TWILIO_KEEP or TWILIO_MEDIA_TYPE.fullmatch(key)}
        dropped = sorted(key for key in raw if key not in kept)
        return {**kept, MINIMISED: True, "dropped": dropped} if dropped else {**kept, MINIMISED: True}
    return {**_walk(raw), MINIMISED: True}


def _walk(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, k) if k in META_NESTED or k in META_KEEP else DROPPED
                for k, v in value.items() if isinstance(k, str)}
    if isinstance(value, list):
        return [_walk(item, key) for item in value[:100]]
    return _scalar(value, key) if key in META_KEEP else DROPPED


def _scalar(value: Any, key: str | None) -> Any:
    """A kept field's value as it was, if it is shaped like an id, a type or a number and holds
    nothing the redaction patterns recognise; else dropped."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value) if isinstance(value, int | float) else value
    if not isinstance(text, str) or not _SAFE_VALUE.fullmatch(text):
        return DROPPED
    if key not in IDENTITY and redact(text)[1]:
        return DROPPED
    return value
