"""Senders to WhatsApp (Meta's Cloud API, Twilio) and the errors they raise."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx


class SendError(Exception):
    """The provider refused a send; `code` is its error code (Meta: 131056...), if any."""

    def __init__(self, code: int | None, http_status: int | None, message: str):
        super().__init__(f"{code or http_status}: {message}")
        self.code, self.http_status, self.message = code, http_status, message

    def as_record(self) -> dict[str, Any]:
        return {"code": self.code, "http_status": self.http_status, "message": self.message,
                "kind": type(self).__name__}


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
    async def mark_read_and_typing(self, inbound_message_id: str) -> None: ...


def _tracker(outbox_id: int | None) -> str | None:
    return None if outbox_id is None else str(outbox_id)


def _transport_error(error: httpx.TransportError) -> SendError:
    unreachable = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return (SendUnreachable if unreachable else SendOutcomeUnknown)(None, None, type(error).__name__)


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
                code = int(error.raw_response.json()["error"]["code"])
            except (AttributeError, ValueError, KeyError, TypeError):
                code = None
            raise SendError(code, status, error.message) from error
        except httpx.TransportError as error:
            raise _transport_error(error) from error

    # pywa's `tracker` is Meta's biz_opaque_callback_data, which Meta echoes in the statuses.
    async def send_text(self, recipient: str, body: str, reply_to: str | None = None, *,
                        outbox_id: int | None = None) -> str:
        return (await self._call(self.client.send_message(
            to=recipient, text=body, reply_to_message_id=reply_to, tracker=_tracker(outbox_id)))).id

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


class TwilioSender:
    """Twilio's WhatsApp channel through the twilio SDK (sync, so run in a thread).

    `base_url` replaces https://api.twilio.com via a custom http client, for a fake or proxy.
    `status_callback_url` is our Twilio webhook as Twilio calls it: each message asks for its
    statuses there with `outbox_id=N` added to the query. Twilio has no read receipts or typing
    indicator in this API: mark_read_and_typing raises NotImplementedError and the worker
    records the row as 'skipped'."""

    def __init__(self, *, account_sid: str, auth_token: str, from_number: str,
                 base_url: str | None = None, status_callback_url: str | None = None,
                 timeout_s: float = 15.0):
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        class RebasedHttpClient(TwilioHttpClient):
            def request(self, method, url, *args, **kwargs):  # type: ignore[override]
                if base_url:
                    url = url.replace("https://api.twilio.com", base_url.rstrip("/"), 1)
                return super().request(method, url, *args, **kwargs)

        self.from_number, self.status_callback_url = from_number, status_callback_url
        self.client = Client(account_sid, auth_token, http_client=RebasedHttpClient(timeout=timeout_s))

    @staticmethod
    def _address(recipient: str) -> str:
        return recipient if recipient.startswith("whatsapp:") else f"whatsapp:+{recipient.lstrip('+')}"

    def _status_callback(self, outbox_id: int | None) -> dict[str, str]:
        if not self.status_callback_url or outbox_id is None:
            return {}
        url = urlsplit(self.status_callback_url)
        query = "&".join(q for q in (url.query, urlencode({"outbox_id": outbox_id})) if q)
        return {"status_callback": urlunsplit(url._replace(query=query))}

    async def _create(self, **fields: Any) -> str:
        from requests.exceptions import ConnectionError as RequestsConnectionError
        from requests.exceptions import ConnectTimeout, Timeout
        from twilio.base.exceptions import TwilioRestException
        from urllib3.exceptions import NewConnectionError

        try:
            message = await asyncio.to_thread(self.client.messages.create, from_=self.from_number,
                                              **fields)
        except TwilioRestException as error:
            raise SendError(error.code, error.status, error.msg) from error
        except ConnectTimeout as error:
            raise SendUnreachable(None, None, "connect timeout") from error
        except (RequestsConnectionError, Timeout) as error:
            # A refused connection never reached Twilio; anything later may have.
            reason = getattr(error.args[0] if error.args else None, "reason", None)
            unreachable = isinstance(reason, NewConnectionError)
            raise (SendUnreachable if unreachable else SendOutcomeUnknown)(
                None, None, type(error).__name__) from error
        return message.sid

    async def send_text(self, recipient: str, body: str, reply_to: str | None = None, *,
                        outbox_id: int | None = None) -> str:
        return await self._create(to=self._address(recipient), body=body,
                                  **self._status_callback(outbox_id))

    async def send_template(self, recipient: str, name: str, language: str,
                            params: list[dict] | dict | None = None, *,
                            outbox_id: int | None = None) -> str:
        # On Twilio an approved template is a Content SID; its variables are a JSON object.
        variables = json.dumps(params) if params else None
        return await self._create(to=self._address(recipient), content_sid=name,
                                  **({"content_variables": variables} if variables else {}),
                                  **self._status_callback(outbox_id))

    async def mark_read_and_typing(self, inbound_message_id: str) -> None:
        raise NotImplementedError("Twilio's Messages API has no read receipt or typing indicator")


RETRYABLE_CODES = frozenset({131000, 130429, 131056})
"""Meta: something went wrong, throughput exceeded, pair rate limit hit."""
RECORDED_CODES = frozenset({131047, 131050})
"""Meta: outside the 24-hour window, user stopped marketing messages. Retrying cannot help."""


def is_retryable(error: SendError) -> bool:
    status = error.http_status or 0
    return (isinstance(error, SendUnreachable) or status == 429 or status >= 500
            or error.code in RETRYABLE_CODES)
