"""Twilio's WhatsApp channel: its Messages API over httpx (async, like the Cloud API sender).

One POST per message to {base_url}/2010-04-01/Accounts/{sid}/Messages.json, Basic auth with the
account SID and auth token, form fields To, From and Body, or ContentSid + ContentVariables for an
approved template (Twilio's Content API: WhatsApp refuses free text outside the 24-hour window),
and StatusCallback: our Twilio webhook with `outbox_id=N` added to its query. Twilio signs the
statuses it posts there (queued, sent, delivered, read, failed, undelivered), and the id settles
a send whose response was lost. Twilio has no read receipt or typing indicator in this API, so
none are queued for Twilio conversations (see `queue.enqueue_read_receipt`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import httpx

from server.outbox.senders import NotSendable, SendError, SendOutcomeUnknown, transport_error

TWILIO_API = "https://api.twilio.com"
TEXT_LIMIT = 1600
"""Twilio refuses a Body over 1,600 characters (error 21617), WhatsApp or not."""
CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")


def whatsapp_address(number: str) -> str:
    """"whatsapp:+447700900123" from "447700900123", "+447700900123" or the address itself."""
    number = number.strip()
    return number if number.startswith("whatsapp:") else f"whatsapp:+{number.lstrip('+')}"


def content_variables(params: Mapping[str, Any] | list | None) -> str | None:
    """Twilio's ContentVariables JSON ({"1": "HP123"}) from a mapping, or from Meta-style
    components, whose text parameters fill {{1}}, {{2}}, ... in order."""
    if not params:
        return None
    if isinstance(params, Mapping):
        return json.dumps({str(k): str(v) for k, v in params.items()})
    texts = [p.get("text") for c in params if isinstance(c, Mapping)
             for p in c.get("parameters") or () if isinstance(p, Mapping) and p.get("text")]
    return json.dumps({str(i): str(t) for i, t in enumerate(texts, 1)}) if texts else None


class TwilioSender:
    """Sends to Twilio. `status_callback_url` is our Twilio webhook as Twilio calls it;
    `content_sids` maps our template names (or "name:language") to approved Content SIDs."""

    provider = "twilio"

    def __init__(self, *, account_sid: str, auth_token: str, from_number: str,
                 base_url: str | None = None, status_callback_url: str | None = None,
                 content_sids: Mapping[str, str] | None = None, timeout_s: float = 15.0):
        self.from_number = whatsapp_address(from_number)
        self.status_callback_url = status_callback_url
        self.content_sids = dict(content_sids or {})
        self.url = (f"{(base_url or TWILIO_API).rstrip('/')}/2010-04-01/Accounts/"
                    f"{quote(account_sid, safe='')}/Messages.json")
        # The token lives only in this client's auth; neither it nor this class logs it.
        self.session = httpx.AsyncClient(
            auth=(account_sid, auth_token), limits=httpx.Limits(keepalive_expiry=4.0),
            timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)))

    def __repr__(self) -> str:
        return f"TwilioSender(url={self.url!r}, from_number={self.from_number!r})"

    async def send_text(self, recipient: str, body: str, reply_to: str | None = None, *,
                        outbox_id: int | None = None) -> str:
        return await self._create({"Body": body}, recipient, outbox_id)

    async def send_choices(self, recipient: str, body: str, choices: Sequence[Mapping[str, Any]],
                           reply_to: str | None = None, *, outbox_id: int | None = None) -> str:
        """The text alone, whose numbered options the customer answers by typing: Twilio
        sends WhatsApp buttons and lists only from approved Content templates (quick-reply,
        list-picker), not as free-form fields of a message."""
        return await self.send_text(recipient, body, reply_to, outbox_id=outbox_id)

    async def send_template(self, recipient: str, name: str, language: str,
                            params: Mapping[str, Any] | list | None = None, *,
                            outbox_id: int | None = None) -> str:
        fields = {"ContentSid": self.content_sid(name, language)}
        if variables := content_variables(params):
            fields["ContentVariables"] = variables
        return await self._create(fields, recipient, outbox_id)

    async def mark_read_and_typing(self, inbound_message_id: str) -> None:
        raise NotImplementedError("Twilio's Messages API has no read receipt or typing indicator")

    async def aclose(self) -> None:
        await self.session.aclose()

    def content_sid(self, name: str, language: str = "") -> str:
        """The Content SID for our template `name` (a SID itself is taken as it is); a template
        with none configured cannot be sent, which is said rather than dropped."""
        sid = self.content_sids.get(f"{name}:{language}") or self.content_sids.get(name)
        if sid is None and CONTENT_SID.fullmatch(name):
            sid = name
        if sid is None:
            raise NotSendable(f"no Twilio Content SID is configured for template {name!r}"
                              " (set TWILIO__CONTENT_SIDS)", provider=self.provider)
        return sid

    def status_callback(self, outbox_id: int | None) -> str | None:
        if not self.status_callback_url or outbox_id is None:
            return None
        url = urlsplit(self.status_callback_url)
        query = "&".join(q for q in (url.query, urlencode({"outbox_id": outbox_id})) if q)
        return urlunsplit(url._replace(query=query))

    async def _create(self, fields: dict[str, str], recipient: str, outbox_id: int | None) -> str:
        form = {"To": whatsapp_address(recipient), "From": self.from_number, **fields}
        if callback := self.status_callback(outbox_id):
            form["StatusCallback"] = callback
        try:
            response = await self.session.post(self.url, data=form)
        except httpx.TransportError as error:
            raise transport_error(error, self.provider) from error
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        if response.status_code >= 400:
            code = body.get("code")
            raise SendError(code if isinstance(code, int) else None, response.status_code,
                            str(body.get("message") or f"HTTP {response.status_code}")[:500],
                            provider=self.provider)
        sid = body.get("sid")
        if not isinstance(sid, str) or not sid:
            # Accepted, most likely, but with no id to know it by: its status callback (which
            # names the outbox row) settles it, else it is sent again.
            raise SendOutcomeUnknown(None, response.status_code, "no message sid in Twilio's answer",
                                     provider=self.provider)
        return sid
