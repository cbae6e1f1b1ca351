"""WhatsApp Cloud API (Meta) webhooks: signature, subscription handshake, and parsing.

We parse the JSON ourselves rather than through pywa's `Message.from_update`: pywa reads only
the first message, contact and change of an update, raises KeyError on contacts without the new
`user_id` (every payload sent before the business-scoped id rollout), and needs a `WhatsApp`
client. Meta's message objects are plain JSON, so a small parser keeps the batch complete and
keeps the fields we need (business-scoped ids, unsupported-type errors, reaction removals).

A malformed message or status is left out and described in `WebhookBatch.rejected`, and the
rest of the delivery is kept: refusing the whole delivery would have Meta retry the good
messages with the bad one until it gives up on all of them. A delivery with nothing usable in
it, or an envelope that is not Meta's, is MalformedPayload (the route answers 400). Optional
fields of the wrong type are ignored; a required one (id, timestamp, type, sender) makes its
message malformed.

Business-scoped user ids (BSUIDs, for customers who hide their number behind a username) come
as `user_id` / `profile.username` on contacts, `from_user_id` on messages and
`recipient_user_id` on statuses; a customer with a username may have no `from` / `wa_id`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from graph.base import media_text
from graph.base.conversation import conversation_id
from server.channels.models import (
    InboundMessage,
    MalformedPayload,
    StatusUpdate,
    WebhookBatch,
    error_info,
    is_status,
    message_id,
    phone_digits,
    short,
    unix_time,
    user_id,
)
from server.request_guards import load_json as strict_json
from server.request_guards import storable

SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})


def verify_signature(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    """Whether X-Hub-Signature-256 ("sha256=<hex>") is the HMAC-SHA256 of the exact body."""
    match = SIGNATURE.fullmatch(header.strip()) if header else None
    if not app_secret or match is None:
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, match.group(1).lower())


def verify_subscription(params: Mapping[str, str], verify_token: str) -> str | None:
    """hub.challenge when Meta's subscription check carries our verify token, else None."""
    challenge, token = params.get("hub.challenge"), params.get("hub.verify_token") or ""
    if not verify_token or params.get("hub.mode") != "subscribe" or challenge is None:
        return None
    # Bytes, so that a non-ASCII token is a mismatch rather than a TypeError.
    return challenge if hmac.compare_digest(token.encode(), verify_token.encode()) else None


def load_json(raw_body: bytes) -> Any:
    """The body as strict JSON (`server.request_guards.load_json`: BadJson otherwise), every
    NUL and lone surrogate replaced (see `storable`). JSON can carry those only as \\u escapes,
    so a byte search spares the common case the walk."""
    payload = strict_json(raw_body)
    return storable(payload) if b"\\u" in raw_body and _ESCAPES.search(raw_body) else payload


_ESCAPES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def parse_webhook(payload: dict, *, received_at: datetime | None = None) -> WebhookBatch:
    """Every message and status in a webhook delivery (several entries and changes allowed).
    `received_at` (default now) is the latest time a message or status may claim."""
    if not isinstance(payload, dict):
        raise MalformedPayload(f"payload must be a JSON object, not {type(payload).__name__}")
    if payload.get("object") != "whatsapp_business_account":
        raise MalformedPayload(
            f"object is {short(payload.get('object'))}, expected 'whatsapp_business_account'")
    parsed = _Parsed(received_at or datetime.now(UTC))
    for i, entry in enumerate(_items(payload, "entry", "payload", required=True)):
        parsed.salvage(_parse_entry, entry, f"entry[{i}]")
    if parsed.rejected and not parsed.messages and not parsed.statuses:
        raise MalformedPayload("; ".join(parsed.rejected[:5]))
    return WebhookBatch(tuple(parsed.messages), tuple(parsed.statuses), tuple(parsed.ignored),
                        tuple(parsed.rejected))


class _Parsed:
    """What a delivery yielded so far; `salvage` keeps one bad part from sinking the rest."""

    def __init__(self, now: datetime):
        self.now = now
        self.messages: list[InboundMessage] = []
        self.statuses: list[StatusUpdate] = []
        self.ignored: list[str] = []
        self.rejected: list[str] = []

    def salvage(self, parse: Callable[..., None], *args: Any) -> None:
        try:
            parse(self, *args)
        except MalformedPayload as error:
            self.rejected.append(str(error))


def _parse_entry(parsed: _Parsed, entry: Any, where: str) -> None:
    for j, change in enumerate(_items(_obj(entry, where), "changes", where, required=True)):
        parsed.salvage(_parse_change, change, f"{where}.changes[{j}]")


def _parse_change(parsed: _Parsed, change: Any, where: str) -> None:
    field = _obj(change, where).get("field")
    if field != "messages":
        parsed.ignored.append(f"{where}: field {short(field)}")
        return
    value, where = _obj(change.get("value"), f"{where}.value"), f"{where}.value"
    phone_number_id = _text(_dict(value.get("metadata")).get("phone_number_id"))
    contacts = [c for c in _list(value.get("contacts")) if isinstance(c, dict)]
    # Value-level errors describe the whole change (e.g. an interactive reply Meta could not
    # render); they belong to its messages when those carry none of their own.
    errors = tuple(_error(e) for e in _list(value.get("errors")) if isinstance(e, dict))
    raw_messages = _items(value, "messages", where)
    raw_statuses = _items(value, "statuses", where)
    for k, raw in enumerate(raw_messages):
        parsed.salvage(_parse_message, raw, f"{where}.messages[{k}]", contacts, errors,
                       phone_number_id)
    for k, raw in enumerate(raw_statuses):
        parsed.salvage(_parse_status, raw, f"{where}.statuses[{k}]", phone_number_id)
    if not raw_messages and not raw_statuses:
        described = "; ".join(f"{e['code']} {e['title']}" for e in errors)
        parsed.ignored.append(f"{where}: " + (f"errors {described}" if errors else "nothing to process"))


def _parse_message(parsed: _Parsed, raw: Any, where: str, contacts: list[dict],
                   value_errors: tuple, phone_number_id: str | None) -> None:
    parsed.messages.append(_message(_obj(raw, where), where, contacts, value_errors,
                                    phone_number_id, parsed.now))


def _parse_status(parsed: _Parsed, raw: Any, where: str, phone_number_id: str | None) -> None:
    status = _status(_obj(raw, where), where, phone_number_id, parsed.now)
    if status is None:
        parsed.ignored.append(f"{where}: unknown status {short(raw.get('status'))}")
    else:
        parsed.statuses.append(status)


def _message(raw: dict, where: str, contacts: list[dict], value_errors: tuple,
             phone_number_id: str | None, now: datetime | None = None) -> InboundMessage:
    for key in ("id", "timestamp", "type"):
        if raw.get(key) in (None, ""):
            raise MalformedPayload(f"{where} is missing {key!r}")
    if not isinstance(raw["type"], str):
        raise MalformedPayload(f"{where}.type must be a string, not {type(raw['type']).__name__}")
    phone = phone_digits(raw.get("from"), f"{where}.from")
    bsuid = user_id(raw.get("from_user_id") or raw.get("user_id"), f"{where}.from_user_id")
    contact = _contact_for(contacts, phone, bsuid)
    phone = phone or phone_digits(contact.get("wa_id"), f"{where}: contact wa_id")
    bsuid = bsuid or user_id(contact.get("user_id"), f"{where}: contact user_id")
    if not phone and not bsuid:
        raise MalformedPayload(f"{where} has no sender: no 'from', 'from_user_id' or contact")
    kind, text, media = _render(raw)
    body = _dict(raw.get(raw["type"]))
    profile = _dict(contact.get("profile"))
    reaction = None
    if kind == "reaction":
        reaction = {"message_id": _text(body.get("message_id")),
                    "emoji": _text(body.get("emoji")) or None}
    return InboundMessage(
        provider="meta", provider_message_id=message_id(raw["id"], where),
        conversation_id=conversation_id(phone, bsuid), phone=phone, business_scoped_user_id=bsuid,
        profile_name=_text(profile.get("name")), username=_text(profile.get("username")),
        kind=kind, text=text, sent_at=unix_time(raw["timestamp"], where, now), raw=raw,
        media=media, reply_to=_text(_dict(raw.get("context")).get("id"))
        or _text(body.get("original_message_id")),
        referral=dict(raw["referral"]) if isinstance(raw.get("referral"), dict) else None,
        reaction=reaction,
        errors=tuple(_error(e) for e in _list(raw.get("errors")) if isinstance(e, dict))
        or value_errors,
        business_phone_number_id=phone_number_id)


def _render(raw: dict, *, nested: bool = False) -> tuple[str, str, dict | None]:
    """(kind, text for the agent, media) for one message object (or an edit's new content).
    Only strings become text: a field of another type is treated as absent."""
    kind: str = raw["type"] if isinstance(raw.get("type"), str) else ""
    body = _dict(raw.get(kind))
    if kind == "text":
        return "text", _text(body.get("body")) or "", None
    if kind in MEDIA_TYPES:
        media: dict[str, Any] = {
            "id": _text(body.get("id")), "url": _text(body.get("url")),
            "mime_type": _text(body.get("mime_type")), "sha256": _text(body.get("sha256")),
            "filename": _text(body.get("filename")), "voice": body.get("voice") is True}
        kind = "voice" if media["voice"] else kind
        return kind, media_text.placeholder(kind, caption=_text(body.get("caption")),
                                            filename=media["filename"]), media
    if kind == "location":
        place = ", ".join(p for p in (_text(body.get("name")), _text(body.get("address"))) if p)
        where = f"({_number(body.get('latitude'))}, {_number(body.get('longitude'))})"
        return "location", f"[location] {place} {where}" if place else f"[location] {where}", None
    if kind == "contacts":
        names = [_contact_name(c) for c in _list(raw.get("contacts")) if isinstance(c, dict)]
        return "contacts", "[contacts] " + ", ".join(n for n in names if n), None
    if kind == "interactive":
        sub = _text(body.get("type"))
        reply = _dict(body.get(sub)) if sub else {}
        if sub in ("button_reply", "list_reply"):
            return "interactive", _text(reply.get("title")) or _text(reply.get("id")) or "", None
        if sub == "nfm_reply":  # a WhatsApp Flow's submitted form, as a JSON string
            form = _text(reply.get("response_json")) or _text(reply.get("body"))
            return "interactive", f"[form] {form}", None
        return "unsupported", f"[unsupported message type: interactive {sub or 'reply'}]", None
    if kind == "button":  # a template's quick-reply button
        return "button", _text(body.get("text")) or _text(body.get("payload")) or "", None
    if kind == "reaction":
        emoji = _text(body.get("emoji"))
        return "reaction", f"[reaction] {emoji}" if emoji else "[reaction removed]", None
    if kind == "order":
        items = ", ".join(f"{_number(i.get('quantity'))} x {_text(i.get('product_retailer_id'))}"
                          for i in _list(body.get("product_items")) if isinstance(i, dict))
        note = f" ({_text(body.get('text'))})" if _text(body.get("text")) else ""
        return "order", f"[order] {items}{note}", None
    if kind == "system":
        return "system", _text(body.get("body")) or f"[system: {_text(body.get('type'))}]", None
    if kind == "edit" and not nested and isinstance(body.get("message"), dict):
        _, text, edited = _render(body["message"], nested=True)  # an edit of an edit is not one
        return "edit", f"[edited] {text}", edited
    if kind == "revoke":
        return "revoke", "[deleted a message]", None
    if kind == "request_welcome":
        return "request_welcome", "[opened the chat]", None
    # Meta adds types over time; those and Meta's own "unsupported" are described, not dropped.
    subtype = _text(_dict(raw.get("unsupported")).get("type")) or (
        kind if kind not in ("unsupported", "") else "unknown")
    return "unsupported", f"[unsupported message type: {subtype[:100]}]", None


def _status(raw: dict, where: str, phone_number_id: str | None,
            now: datetime | None = None) -> StatusUpdate | None:
    for key in ("id", "status", "timestamp"):
        if raw.get(key) in (None, ""):
            raise MalformedPayload(f"{where} is missing {key!r}")
    status = raw["status"]
    if not is_status(status):
        return None
    phone = phone_digits(raw.get("recipient_id"), f"{where}.recipient_id")
    bsuid = user_id(raw.get("recipient_user_id"), f"{where}.recipient_user_id")
    billing = {k: raw[k] for k in ("conversation", "pricing") if isinstance(raw.get(k), dict)}
    return StatusUpdate(
        provider="meta", provider_message_id=message_id(raw["id"], where), status=status,
        recipient=conversation_id(phone, bsuid) if phone or bsuid else None,
        at=unix_time(raw["timestamp"], where, now), raw=raw,
        errors=tuple(_error(e) for e in _list(raw.get("errors")) if isinstance(e, dict)),
        billing=billing or None, business_phone_number_id=phone_number_id,
        outbox_id=StatusUpdate.outbox_id_from(raw.get("biz_opaque_callback_data")))


def _contact_for(contacts: list[dict], phone: str | None, bsuid: str | None) -> dict:
    """The contacts[] entry for this sender: matched by wa_id or user_id, else the only one
    (Meta sends one contact per sender, and the message's own ids still take precedence)."""
    for contact in contacts:
        if (phone and _same_number(contact.get("wa_id"), phone)) or (
                bsuid and contact.get("user_id") == bsuid):
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def _same_number(wa_id: Any, phone: str) -> bool:
    try:
        return phone_digits(wa_id, "contact") == phone
    except MalformedPayload:
        return False


def _contact_name(card: dict) -> str:
    name = _dict(card.get("name"))
    return _text(name.get("formatted_name")) or " ".join(
        p for p in (_text(name.get("first_name")), _text(name.get("last_name"))) if p)


def _error(raw: dict) -> dict:
    return error_info(raw.get("code"), _text(raw.get("title")), _text(raw.get("message")),
                      _text(_dict(raw.get("error_data")).get("details")))


def _text(value: Any) -> str | None:
    """A string field's value; None when it is absent or not a string."""
    return value if isinstance(value, str) else None


def _number(value: Any) -> Any:
    """A number (or numeric string) as sent; None for anything else."""
    return value if isinstance(value, int | float | str) and not isinstance(value, bool) else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _obj(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise MalformedPayload(f"{where} must be an object, not {type(value).__name__}")
    return value


def _items(parent: dict, key: str, where: str, *, required: bool = False) -> list:
    value = parent.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"{where}.{key} must be a list, not {type(value).__name__}")
    return value
