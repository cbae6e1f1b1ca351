"""The sender protocol, the errors senders raise and which of them are worth a retry, and
Meta's Cloud API sender (Twilio's is in twilio_sender.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import httpx

from nodes import choices as limits
from nodes.choices import shortened


class SendError(Exception):
    """The provider refused a send; `code` is its error code (Meta: 131056..., Twilio: 21211...),
    if any. `provider` says whose codes they are (see `is_retryable`)."""

    def __init__(self, code: int | None, http_status: int | None, message: str, *,
                 provider: str = "meta"):
        super().__init__(f"{code or http_status}: {message}")
        self.code, self.http_status, self.message = code, http_status, message
        self.provider = provider

    def as_record(self) -> dict[str, Any]:
        return {"code": self.code, "http_status": self.http_status, "message": self.message,
                "kind": type(self).__name__}


class NotSendable(SendError):
    """We cannot send this message at all (no sender for its provider, no Twilio Content SID for
    its template): it is failed at once, with this reason, and shown to agents."""

    def __init__(self, message: str, *, provider: str = "meta"):
        super().__init__(None, None, message, provider=provider)
        self.args = (message,)

    def __str__(self) -> str:
        return self.message


class SendUnreachable(SendError):
    """No connection was made: the provider cannot have seen the message, so a retry is safe."""


class SendOutcomeUnknown(SendError):
    """The request may have reached the provider (timeout after sending, dropped response)."""


class Sender(Protocol):
    """A provider's send calls. `outbox_id` travels with the message and comes back in its
    status webhooks, so a send whose response was lost can still be settled."""

    async def send_text(self, recipient: str, body: str, reply_to: str | None, *,
                        outbox_id: int | None = None) -> str: ...
    async def send_template(self, recipient: str, name: str, language: str,
                            params: list[dict] | None, *, outbox_id: int | None = None) -> str: ...
    async def send_choices(self, recipient: str, body: str, choices: Sequence[Mapping[str, Any]],
                           reply_to: str | None, *, outbox_id: int | None = None) -> str: ...
    async def mark_read_and_typing(self, inbound_message_id: str) -> None: ...
    async def aclose(self) -> None: ...


def _tracker(outbox_id: int | None) -> str | None:
    return None if outbox_id is None else str(outbox_id)


def transport_error(error: httpx.TransportError, provider: str = "meta") -> SendError:
    """Unreachable when no connection was made (safe to retry), else outcome unknown."""
    unreachable = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return (SendUnreachable if unreachable else SendOutcomeUnknown)(
        None, None, type(error).__name__, provider=provider)


INTERACTIVE_REFUSED_CODES = frozenset({100, 131009})
"""Meta's "invalid parameter" codes: an interactive message it will not take, which a plain
text of the same body can replace (the message was refused, so nothing went twice)."""
LIST_BUTTON = "Choose"
"""The label of the button that opens a list message (at most 20 characters)."""


def interactive_buttons(choices: Sequence[Mapping[str, Any]]) -> Any:
    """pywa's reply buttons for up to three choices, else a one-section list of up to ten rows,
    cut to Meta's limits again here in case a row was queued by an older or other writer
    (nodes/choices.py builds them within the limits)."""
    from pywa.types import Button, Section, SectionList, SectionRow

    if len(choices) <= limits.MAX_BUTTONS:
        return [Button(title=shortened(c["title"], limits.BUTTON_TITLE_LIMIT),
                       callback_data=str(c["id"])) for c in choices]
    rows = [SectionRow(title=shortened(c["title"], limits.ROW_TITLE_LIMIT),
                       callback_data=str(c["id"]),
                       description=shortened(c["description"], limits.ROW_DESCRIPTION_LIMIT)
                       if c.get("description") else None)
            for c in choices[:limits.MAX_ROWS]]
    return SectionList(button_title=LIST_BUTTON, sections=[Section(title=LIST_BUTTON, rows=rows)])


class CloudApiSender:
    """Meta's Cloud API through pywa's async client.

    pywa always sets its session's base URL to graph.facebook.com, but the session is ours:
    setting `base_url` on it after construction points pywa at the simulator's fake Graph
    API (or a proxy) with no private pywa attribute touched. The token lives only in that
    session's Authorization header, which neither pywa nor this class logs."""

    def __init__(self, *, base_url: str, api_version: str, phone_number_id: str,
                 access_token: str, timeout_s: float = 15.0):
        from pywa_async import WhatsApp

        version = api_version.lstrip("v")
        self.phone_number_id = phone_number_id
        # Idle connections are dropped after 4 s, before servers that close them after 5 s
        # (a common default) do: a send on a connection the server is closing fails with its
        # outcome unknown.
        self.session = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)),
                                         limits=httpx.Limits(keepalive_expiry=4.0))
        self.client = WhatsApp(phone_id=phone_number_id, token=access_token,
                               session=self.session, api_version=version)
        self.session.base_url = f"{base_url.rstrip('/')}/v{version}"

    def __repr__(self) -> str:
        return f"CloudApiSender(base_url={str(self.session.base_url)!r}, phone_number_id={self.phone_number_id!r})"

    async def _call(self, call) -> Any:
        from pywa.errors import WhatsAppError

        try:
            return await call
        except WhatsAppError as error:
            status = error.status_code
            try:  # pywa invents a code from the HTTP status when the body is not Meta's JSON
                body = error.raw_response.json() if error.raw_response is not None else {}
                code = int(body["error"]["code"])
            except (AttributeError, ValueError, KeyError, TypeError):
                code = None
            raise SendError(code, status, error.message) from error
        except httpx.TransportError as error:
            raise transport_error(error) from error

    # pywa's `tracker` is Meta's biz_opaque_callback_data, which Meta echoes in the statuses.
    async def send_text(self, recipient: str, body: str, reply_to: str | None = None, *,
                        outbox_id: int | None = None) -> str:
        return (await self._call(self.client.send_message(
            to=recipient, text=body, reply_to_message_id=reply_to, tracker=_tracker(outbox_id)))).id

    async def send_choices(self, recipient: str, body: str, choices: Sequence[Mapping[str, Any]],
                           reply_to: str | None = None, *, outbox_id: int | None = None) -> str:
        """`body` with its choices as reply buttons (up to three) or a list (more); the body
        still lists them, so a client that shows neither can be answered by typing. Refused
        as invalid (a parameter Meta will not take), the body goes as plain text instead."""
        try:
            return (await self._call(self.client.send_message(
                to=recipient, text=body, buttons=interactive_buttons(choices),
                reply_to_message_id=reply_to, tracker=_tracker(outbox_id)))).id
        except SendError as error:
            if error.code not in INTERACTIVE_REFUSED_CODES:
                raise
            return await self.send_text(recipient, body, reply_to, outbox_id=outbox_id)

    async def send_template(self, recipient: str, name: str, language: str,
                            params: list[dict] | None = None, *, outbox_id: int | None = None) -> str:
        from pywa_async.types.templates import TemplateLanguage

        return (await self._call(self.client.send_template(
            to=recipient, name=name, language=TemplateLanguage(language), params=params,
            tracker=_tracker(outbox_id)))).id

    async def mark_read_and_typing(self, inbound_message_id: str) -> None:
        # pywa's indicate_typing posts {"status": "read", "typing_indicator": {"type": "text"}}:
        # one call marks the message read and shows "typing…" (until the reply or 25 s).
        await self._call(self.client.indicate_typing(inbound_message_id))

    async def aclose(self) -> None:
        await self.session.aclose()


RETRYABLE_CODES: dict[str, frozenset[int]] = {
    # Meta: unknown/temporary API error, too many calls, rate limit issues, throughput exceeded,
    # something went wrong, service unavailable, pair rate limit hit, server temporarily unavailable.
    "meta": frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131056, 133004}),
    # Twilio: send rate exceeded, too many requests, internal error, service unavailable,
    # too many queued messages on the sender.
    "twilio": frozenset({14107, 20429, 20500, 20503, 21611}),
}
"""Codes worth trying again (with backoff) whatever the HTTP status."""
PERMANENT_CODES: dict[str, frozenset[int]] = {
    # Meta: invalid parameter, token expired, permissions, policy block, parameters missing or
    # invalid, recipient cannot be sent to, undeliverable, account locked or unpaid, outside the
    # window, opted out of marketing, unsupported type, template missing, paused or disabled.
    "meta": frozenset({10, 100, 190, 200, 368, 131008, 131009, 131021, 131026, 131031, 131042,
                       131047, 131050, 131051, 131052, 131053, 132000, 132001, 132005, 132007,
                       132012, 132015, 132016, 133010}),
    # Twilio: authentication, not found, invalid To, region not enabled, unsubscribed, not a
    # mobile number, invalid ContentSid / ContentVariables, no channel for From, outside window.
    "twilio": frozenset({20003, 20404, 21211, 21408, 21610, 21614, 21655, 21656, 63007, 63016}),
}
"""Codes that no retry can help, even when they come with a 5xx."""
RECORDED_CODES = frozenset({131047, 131050, 63016})
"""Outside the 24-hour window, user stopped marketing messages: expected, logged as info."""


def is_retryable(error: SendError) -> bool:
    """Whether a send refused with `error` may succeed later: a connection never made, 429,
    5xx or a transient provider code, unless the code is known to be permanent. Everything
    else (any other 4xx, a message we cannot send at all) is failed at once."""
    if isinstance(error, NotSendable) or error.code in PERMANENT_CODES.get(error.provider, ()):
        return False
    status = error.http_status or 0
    return (isinstance(error, SendUnreachable) or status == 429 or status >= 500
            or error.code in RETRYABLE_CODES.get(error.provider, ()))
