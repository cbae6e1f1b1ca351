"""Twilio's WhatsApp webhooks: signature check, inbound messages and status callbacks.

Twilio posts one event per request as form fields: either an inbound message, or a status
callback (it has `MessageStatus`) for a message we sent. Neither carries a timestamp, so
`sent_at` / `at` is when the form was parsed (`received_at`, default now, in UTC): close to the
true time, since Twilio posts as the event happens, but a retried delivery gets a later time.
Twilio's form has no business-scoped user id; the customer is always the `WaId` number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from twilio.request_validator import RequestValidator

from graph.base import media_text
from graph.base.conversation import conversation_id
from server.channels.models import (
    InboundMessage,
    MalformedPayload,
    StatusName,
    StatusUpdate,
    WebhookBatch,
    error_info,
    is_status,
    phone_digits,
    short,
    without_nul,
)

WHATSAPP = "whatsapp:"
INBOUND_STATES = frozenset({"received", "receiving"})
MEDIA_KINDS = frozenset({"image", "audio", "video", "document", "sticker"})
ERROR_TITLES = {
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
    63003: "Channel could not find the To address",
    63016: "Failed to send freeform message because you are outside the allowed window",
    63018: "Rate limit exceeded for the WhatsApp channel",
    63024: "Invalid message recipient",
    63032: "Cannot send to this user because of a WhatsApp limitation",
    63049: "Meta chose not to deliver this WhatsApp marketing message",
    63112: "The WhatsApp Business Account was disabled by Meta",
}
"""Titles of Twilio's WhatsApp delivery errors, for agents, when a callback has no ErrorMessage."""


def verify_signature(auth_token: str, url: str, form: Mapping[str, str],
                     header: str | None) -> bool:
    """Whether X-Twilio-Signature signs this public URL and form with the account's token."""
    if not auth_token or not header:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(form), header))


def parse_form(form: Mapping[str, str], *, received_at: datetime | None = None,
               outbox_id: str | None = None) -> WebhookBatch:
    """The one message or status a Twilio webhook form describes. `outbox_id` is the query
    parameter our status callback URLs carry (the form has no field of ours)."""
    if not isinstance(form, Mapping):
        raise MalformedPayload(f"form must be a mapping, not {type(form).__name__}")
    form = without_nul(dict(form))
    if not all(isinstance(v, str) for v in form.values()):
        raise MalformedPayload("form values must be strings")
    sid = form.get("MessageSid")
    if not sid:
        raise MalformedPayload("form is missing 'MessageSid'")
    now = received_at or datetime.now(UTC)
    status = (form.get("MessageStatus") or "").lower()
    if status and status not in INBOUND_STATES:
        if not is_status(status):
            return WebhookBatch(ignored=(f"{sid[:64]}: unknown status {short(status)}",))
        return WebhookBatch(statuses=(_status(form, sid, status, now, outbox_id),))
    sender = form.get("From")
    if not sender:
        raise MalformedPayload(f"form for {sid[:64]} is missing 'From'")
    if not sender.startswith(WHATSAPP):
        # The same Twilio number can receive SMS; this agent only speaks WhatsApp.
        return WebhookBatch(ignored=(f"{sid[:64]}: From is not a whatsapp: address",))
    phone = (phone_digits(form.get("WaId"), "WaId")
             or phone_digits(sender.removeprefix(WHATSAPP), "From"))
    if phone is None:
        raise MalformedPayload(f"form for {sid[:64]} has no sender number")
    kind, text, media = _render(form)
    message = InboundMessage(
        provider="twilio", provider_message_id=sid, conversation_id=conversation_id(phone),
        phone=phone,
        business_scoped_user_id=None, profile_name=form.get("ProfileName") or None, kind=kind,
        text=text, sent_at=now, raw=dict(form), media=media,
        reply_to=form.get("OriginalRepliedMessageSid") or None, referral=_referral(form),
        business_phone_number_id=_address(form.get("To")))
    return WebhookBatch(messages=(message,))


def _render(form: Mapping[str, str]) -> tuple[str, str, dict | None]:
    """(kind, text for the agent, media) from the form's WhatsApp fields."""
    message_type = (form.get("MessageType") or "").lower()
    body = form.get("Body") or ""
    if form.get("ButtonPayload") or form.get("ButtonText") or message_type == "button":
        return "button", form.get("ButtonText") or body or form.get("ButtonPayload") or "", None
    if form.get("ListId") or form.get("ListTitle"):  # a list-picker reply
        return "interactive", form.get("ListTitle") or body or form.get("ListId") or "", None
    if form.get("Latitude") and form.get("Longitude"):
        place = ", ".join(p for p in (form.get("Label"), form.get("Address")) if p)
        where = f"({form['Latitude']}, {form['Longitude']})"
        return "location", f"[location] {place} {where}" if place else f"[location] {where}", None
    if _media_count(form) > 0:
        # WhatsApp sends one media item per message; Twilio numbers them from 0.
        url, mime = form.get("MediaUrl0") or None, form.get("MediaContentType0") or None
        kind = message_type if message_type in MEDIA_KINDS else _kind_from_mime(mime)
        media = {"id": url.rstrip("/").rsplit("/", 1)[-1] if url else None, "url": url,
                 "mime_type": mime, "sha256": None, "filename": None, "voice": None}
        return kind, media_text.placeholder(kind, caption=body), media
    if body or message_type in ("", "text"):
        return "text", body, None
    return "unsupported", f"[unsupported message type: {message_type}]", None


def _status(form: Mapping[str, str], sid: str, status: StatusName, now: datetime,
            outbox_id: str | None) -> StatusUpdate:
    code = form.get("ErrorCode")
    errors: tuple[dict[str, Any], ...] = ()
    if code and code != "0":  # some callbacks carry ErrorCode=0: no error
        info = error_info(code, None, form.get("ErrorMessage") or None)
        info["title"] = ERROR_TITLES.get(info["code"]) if isinstance(info["code"], int) else None
        errors = (info,)
    return StatusUpdate(
        provider="twilio", provider_message_id=sid, status=status,
        recipient=_address(form.get("To")), at=now, raw=dict(form), errors=errors,
        business_phone_number_id=_address(form.get("From")),
        outbox_id=StatusUpdate.outbox_id_from(outbox_id))


def _referral(form: Mapping[str, str]) -> dict | None:
    """Click-to-WhatsApp ad fields (ReferralSourceUrl, ...) under Meta's snake_case names."""
    referral = {_snake(key.removeprefix("Referral")): value for key, value in form.items()
                if key.startswith("Referral") and key != "ReferralNumMedia" and value}
    return referral or None


def _media_count(form: Mapping[str, str]) -> int:
    raw = form.get("NumMedia") or "0"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3):
        raise MalformedPayload(f"NumMedia {short(raw)} is not a number")
    return int(raw)


def _kind_from_mime(mime: str | None) -> str:
    major = (mime or "").split("/", 1)[0]
    return major if major in ("image", "audio", "video") else "document"


def _address(value: str | None) -> str | None:
    """Digits of "whatsapp:+447700900123", "+447700900123" or "447700900123"; None when absent
    or not a number (our own number on a status or message: the message id identifies it)."""
    try:
        return phone_digits(value.removeprefix(WHATSAPP), "address") if value else None
    except MalformedPayload:
        return None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
