"""WhatsApp Cloud API (Meta) webhooks: signature, subscription handshake, and parsing.

We parse the JSON ourselves rather than through pywa's `Message.from_update`: pywa reads only
the first message, contact and change of an update, raises KeyError on contacts without the new
`user_id` (every payload sent before the business-scoped id rollout), and needs a `WhatsApp`
client. Meta's message objects are plain JSON, so a small parser keeps the batch complete and
keeps the fields we need (business-scoped ids, unsupported-type errors, reaction removals).

Business-scoped user ids (BSUIDs, for customers who hide their number behind a username) come
as `user_id` / `profile.username` on contacts, `from_user_id` on messages and
`recipient_user_id` on statuses; a customer with a username may have no `from` / `wa_id`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from server.channels.models import (
    KNOWN_STATUSES,
    InboundMessage,
    MalformedPayload,
    StatusUpdate,
    WebhookBatch,
    customer_key,
    error_info,
    unix_time,
    without_nul,
)

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
    """The body as JSON, every NUL character replaced (see `without_nul`). JSON can carry NUL
    only as the escape \\u0000, so a byte search spares the common case the walk."""
    payload = json.loads(raw_body)
    return without_nul(payload) if b"\\u0000" in raw_body else payload


def parse_webhook(payload: dict) -> WebhookBatch:
    """Every message and status in a webhook delivery (several entries and changes allowed)."""
    if not isinstance(payload, dict):
        raise MalformedPayload(f"payload must be a JSON object, not {type(payload).__name__}")
    if payload.get("object") != "whatsapp_business_account":
        raise MalformedPayload(
            f"object is {payload.get('object')!r}, expected 'whatsapp_business_account'")
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    ignored: list[str] = []
    for i, entry in enumerate(_items(payload, "entry", "payload", required=True)):
        for j, change in enumerate(_items(_obj(entry, f"entry[{i}]"), "changes", f"entry[{i}]",
                                          required=True)):
            where = f"entry[{i}].changes[{j}]"
            field = _obj(change, where).get("field")
            if field != "messages":
                ignored.append(f"{where}: field {field!r}")
                continue
            _parse_value(_obj(change.get("value"), f"{where}.value"), f"{where}.value",
                         messages, statuses, ignored)
    return WebhookBatch(tuple(messages), tuple(statuses), tuple(ignored))


def _parse_value(value: dict, where: str, messages: list, statuses: list, ignored: list) -> None:
    phone_number_id = (value.get("metadata") or {}).get("phone_number_id")
    contacts = [c for c in value.get("contacts") or () if isinstance(c, dict)]
    # Value-level errors describe the whole change (e.g. an interactive reply Meta could not
    # render); they belong to its messages when those carry none of their own.
    errors = tuple(_error(e) for e in value.get("errors") or () if isinstance(e, dict))
    raw_messages = _items(value, "messages", where)
    raw_statuses = _items(value, "statuses", where)
    for k, raw in enumerate(raw_messages):
        messages.append(_message(_obj(raw, f"{where}.messages[{k}]"), f"{where}.messages[{k}]",
                                 contacts, errors, phone_number_id))
    for k, raw in enumerate(raw_statuses):
        status = _status(_obj(raw, f"{where}.statuses[{k}]"), f"{where}.statuses[{k}]",
                         phone_number_id)
        if status is None:
            ignored.append(f"{where}.statuses[{k}]: unknown status {raw.get('status')!r}")
        else:
            statuses.append(status)
    if not raw_messages and not raw_statuses:
        described = "; ".join(f"{e['code']} {e['title']}" for e in errors)
        ignored.append(f"{where}: " + (f"errors {described}" if errors else "nothing to process"))


def _message(raw: dict, where: str, contacts: list[dict], value_errors: tuple,
             phone_number_id: str | None) -> InboundMessage:
    for key in ("id", "timestamp", "type"):
        if raw.get(key) in (None, ""):
            raise MalformedPayload(f"{where} is missing {key!r}")
    if not isinstance(raw["type"], str):
        raise MalformedPayload(f"{where}.type must be a string, not {type(raw['type']).__name__}")
    phone = _digits(raw.get("from"))
    bsuid = raw.get("from_user_id") or raw.get("user_id")
    contact = _contact_for(contacts, phone, bsuid)
    phone, bsuid = phone or _digits(contact.get("wa_id")), bsuid or contact.get("user_id")
    if not phone and not bsuid:
        raise MalformedPayload(f"{where} has no sender: no 'from', 'from_user_id' or contact")
    kind, text, media = _render(raw)
    body = raw.get(raw["type"]) if isinstance(raw.get(raw["type"]), dict) else {}
    profile = contact.get("profile") or {}
    reaction = None
    if kind == "reaction":
        reaction = {"message_id": body.get("message_id"), "emoji": body.get("emoji") or None}
    return InboundMessage(
        provider="meta", provider_message_id=str(raw["id"]),
        customer_key=customer_key(phone, bsuid), phone=phone, business_scoped_user_id=bsuid,
        profile_name=profile.get("name"), username=profile.get("username"), kind=kind,
        text=text, sent_at=unix_time(raw["timestamp"], where), raw=raw, media=media,
        reply_to=(raw.get("context") or {}).get("id") or body.get("original_message_id"),
        referral=dict(raw["referral"]) if isinstance(raw.get("referral"), dict) else None,
        reaction=reaction,
        errors=tuple(_error(e) for e in raw.get("errors") or () if isinstance(e, dict))
        or value_errors,
        business_phone_number_id=phone_number_id)


def _render(raw: dict) -> tuple[str, str, dict | None]:
    """(kind, text for the agent, media) for one message object (or an edit's new content)."""
    kind = raw.get("type")
    body = raw.get(kind) if isinstance(raw.get(kind), dict) else {}
    if kind == "text":
        return "text", body.get("body") or "", None
    if kind in MEDIA_TYPES:
        media = {"id": body.get("id"), "url": body.get("url"), "mime_type": body.get("mime_type"),
                 "sha256": body.get("sha256"), "filename": body.get("filename"),
                 "voice": bool(body.get("voice"))}
        kind = "voice" if media["voice"] else kind
        placeholder = f"[document: {media['filename']}]" if media["filename"] else f"[{kind}]"
        return kind, body.get("caption") or placeholder, media
    if kind == "location":
        place = ", ".join(p for p in (body.get("name"), body.get("address")) if p)
        where = f"({body.get('latitude')}, {body.get('longitude')})"
        return "location", f"[location] {place} {where}" if place else f"[location] {where}", None
    if kind == "contacts":
        names = [_contact_name(c) for c in raw.get("contacts") or () if isinstance(c, dict)]
        return "contacts", "[contacts] " + ", ".join(n for n in names if n), None
    if kind == "interactive":
        sub = body.get("type")
        reply = body.get(sub) if isinstance(body.get(sub), dict) else {}
        if sub in ("button_reply", "list_reply"):
            return "interactive", reply.get("title") or reply.get("id") or "", None
        if sub == "nfm_reply":  # a WhatsApp Flow's submitted form, as a JSON string
            return "interactive", f"[form] {reply.get('response_json') or reply.get('body')}", None
        return "unsupported", f"[unsupported message type: interactive {sub or 'reply'}]", None
    if kind == "button":  # a template's quick-reply button
        return "button", body.get("text") or body.get("payload") or "", None
    if kind == "reaction":
        emoji = body.get("emoji")
        return "reaction", f"[reaction] {emoji}" if emoji else "[reaction removed]", None
    if kind == "order":
        items = ", ".join(f"{i.get('quantity')} x {i.get('product_retailer_id')}"
                          for i in body.get("product_items") or () if isinstance(i, dict))
        note = f" ({body['text']})" if body.get("text") else ""
        return "order", f"[order] {items}{note}", None
    if kind == "system":
        return "system", body.get("body") or f"[system: {body.get('type')}]", None
    if kind == "edit" and isinstance(body.get("message"), dict):
        _, text, media = _render(body["message"])
        return "edit", f"[edited] {text}", media
    if kind == "revoke":
        return "revoke", "[deleted a message]", None
    if kind == "request_welcome":
        return "request_welcome", "[opened the chat]", None
    # Meta adds types over time; those and Meta's own "unsupported" are described, not dropped.
    subtype = (raw.get("unsupported") or {}).get("type") or (
        kind if kind != "unsupported" else "unknown")
    return "unsupported", f"[unsupported message type: {subtype}]", None


def _status(raw: dict, where: str, phone_number_id: str | None) -> StatusUpdate | None:
    for key in ("id", "status", "timestamp"):
        if raw.get(key) in (None, ""):
            raise MalformedPayload(f"{where} is missing {key!r}")
    if not isinstance(raw["status"], str) or raw["status"] not in KNOWN_STATUSES:
        return None
    phone, bsuid = _digits(raw.get("recipient_id")), raw.get("recipient_user_id")
    billing = {k: raw[k] for k in ("conversation", "pricing") if isinstance(raw.get(k), dict)}
    return StatusUpdate(
        provider="meta", provider_message_id=str(raw["id"]), status=raw["status"],
        recipient=customer_key(phone, bsuid) if phone or bsuid else None,
        at=unix_time(raw["timestamp"], where), raw=raw,
        errors=tuple(_error(e) for e in raw.get("errors") or () if isinstance(e, dict)),
        billing=billing or None, business_phone_number_id=phone_number_id,
        outbox_id=StatusUpdate.outbox_id_from(raw.get("biz_opaque_callback_data")))


def _contact_for(contacts: list[dict], phone: str | None, bsuid: str | None) -> dict:
    """The contacts[] entry for this sender: matched by wa_id or user_id, else the only one
    (Meta sends one contact per sender, and the message's own ids still take precedence)."""
    for contact in contacts:
        if (phone and _digits(contact.get("wa_id")) == phone) or (
                bsuid and contact.get("user_id") == bsuid):
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def _contact_name(card: dict) -> str:
    name = card.get("name") or {}
    return name.get("formatted_name") or " ".join(
        p for p in (name.get("first_name"), name.get("last_name")) if p)


def _error(raw: dict) -> dict:
    return error_info(raw.get("code"), raw.get("title"), raw.get("message"),
                      (raw.get("error_data") or {}).get("details"))


def _digits(value: Any) -> str | None:
    """A wa_id as bare digits ("+44..." and " 44..." both become "44..."), or None."""
    if value is None:
        return None
    return str(value).strip().lstrip("+") or None


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
