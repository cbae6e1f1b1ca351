"""A fake of Twilio's Messages API for WhatsApp, over real HTTP, that behaves like Twilio where
Switchboard depends on it.

- POST /2010-04-01/Accounts/{AccountSid}/Messages.json checks Basic auth (account SID, auth
  token) and the form (To, From, Body or ContentSid + ContentVariables, StatusCallback) as Twilio
  does, and answers 201 with the message resource (sid "SM...", status "queued") or Twilio's
  error JSON ({"code", "message", "more_info", "status"}).
- A message with a StatusCallback gets signed status callbacks there (X-Twilio-Signature, by
  the twilio package's RequestValidator over that URL and form), one POST each: queued, sent,
  delivered, read; or, when told to fail, queued, then failed / undelivered with ErrorCode.
- `fail_next` injects errors: in the response (21211, 20429 with 429, ...) or by callback.
- `send_customer_message` plays the customer: a signed inbound WhatsApp form to `webhook_url`.

Tests run it as `with FakeTwilio(...) as fake:` (uvicorn on a thread of its own). For a local
trial of the Twilio channel, run it as a process and point the server at it:
`python -m server.simulator.fake_twilio --webhook-url http://127.0.0.1:8000/webhooks/twilio`,
then TWILIO__API_BASE_URL=http://127.0.0.1:8082 with the same TWILIO__ACCOUNT_SID,
TWILIO__AUTH_TOKEN and TWILIO__FROM_NUMBER. Demo mode does not mount it: a Twilio-configured
server is not in demo mode.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from twilio.request_validator import RequestValidator

from server.simulator.fake_cloud_api import ThreadServer

BODY_LIMIT = 1600
CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
WHATSAPP_TO = re.compile(r"whatsapp:\+[1-9][0-9]{6,14}")
ERRORS = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    21211: (400, "Invalid 'To' Phone Number"),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21609: (400, "Invalid StatusCallback url"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
    21619: (400, "A text message body or media urls must be specified."),
    21655: (400, "The ContentSid is Invalid."),
    21656: (400, "The ContentVariables Parameter is invalid."),
    63007: (400, "Twilio could not find a Channel with the specified From address"),
    63016: (400, "Failed to send freeform message because you are outside the allowed window."),
}


def error_response(code: int, status: int | None = None) -> JSONResponse:
    """An error body shaped like Twilio's for the given code."""
    http_status, message = ERRORS.get(code, (status or 400, "Error"))
    status = status or http_status
    return JSONResponse({"code": code, "message": message, "status": status,
                         "more_info": f"https://www.twilio.com/docs/errors/{code}"}, status)


class FakeTwilio:
    """The fake and what it saw: `sent` (each accepted message) and `callbacks` (each status
    callback POSTed, with the receiver's HTTP status). `contents`, when given, are the only
    Content SIDs it knows (else any well-formed one)."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str = "whatsapp:+14155238886",
                 *, webhook_url: str | None = None, status_delay_s: float = 0.1,
                 contents: dict[str, str] | None = None):
        self.account_sid, self.auth_token, self.from_number = account_sid, auth_token, from_number
        self.webhook_url, self.status_delay_s, self.contents = webhook_url, status_delay_s, contents
        self.validator = RequestValidator(auth_token)
        self.sent: list[dict[str, Any]] = []
        self.callbacks: list[dict[str, Any]] = []
        self.url: str | None = None
        self._behaviours: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._server: ThreadServer | None = None
        self._client: httpx.AsyncClient | None = None
        self.app = FastAPI(title="Fake Twilio", docs_url=None, redoc_url=None, lifespan=self._lifespan)
        self.app.add_api_route("/2010-04-01/Accounts/{account_sid}/Messages.json", self._create,
                               methods=["POST"], status_code=201)

    # --- Test controls --------------------------------------------------------------------

    def fail_next(self, code: int, http_status: int | None = None, *, callback: str | None = None,
                  message: str | None = None, to: str | None = None) -> None:
        """Fail the next send (to `to`, e.g. "whatsapp:+4477...", when given) with Twilio error
        `code`: in the response (with `http_status`, else the code's own), or, with `callback`
        ("failed" or "undelivered"), accept it and report that status with ErrorCode `code`
        (and ErrorMessage `message`, if given)."""
        with self._lock:
            self._behaviours.append({"code": code, "http_status": http_status, "to": to,
                                     "callback": callback, "message": message})

    def _behaviour_for(self, to: str) -> dict[str, Any] | None:
        with self._lock:
            for behaviour in self._behaviours:
                if behaviour["to"] in (None, to):
                    self._behaviours.remove(behaviour)
                    return behaviour
        return None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeTwilio:
        self._server = ThreadServer(self.app, host, port, lifespan="on")
        self.url = self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server, self.url = None, None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        self._client = httpx.AsyncClient(timeout=10)
        try:
            yield
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._client.aclose()

    def sign(self, url: str, form: dict[str, str]) -> str:
        return self.validator.compute_signature(url, form)

    # --- The Messages resource ------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return False
        return scheme.lower() == "basic" and (user, password) == (self.account_sid, self.auth_token)

    def _refusal(self, form: dict[str, str]) -> int | None:
        """The error code Twilio would answer this form with, if any."""
        to, sender = form.get("To", ""), form.get("From", "")
        checks = [
            (not to, 21604), (not sender, 21603), (sender != self.from_number, 63007),
            (not WHATSAPP_TO.fullmatch(to), 21211),
            (not form.get("Body") and not form.get("ContentSid"), 21619),
            (len(form.get("Body", "")) > BODY_LIMIT, 21617),
            ("StatusCallback" in form and not form["StatusCallback"].startswith(("http://", "https://")), 21609)]
        if sid := form.get("ContentSid"):
            checks.append((not CONTENT_SID.fullmatch(sid) or (
                self.contents is not None and sid not in self.contents), 21655))
            try:
                variables = json.loads(form.get("ContentVariables") or "{}")
            except ValueError:
                variables = None
            checks.append((not isinstance(variables, dict), 21656))
        return next((code for failed, code in checks if failed), None)

    async def _create(self, account_sid: str, request: Request) -> Any:
        if not self._authorized(request):
            return error_response(20003)
        if account_sid != self.account_sid:
            return error_response(20404)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        if code := self._refusal(form):
            return error_response(code)
        behaviour = self._behaviour_for(form["To"])
        if behaviour and not behaviour["callback"]:
            return error_response(behaviour["code"], behaviour["http_status"])
        sid = f"SM{uuid.uuid4().hex}"
        record = {"sid": sid, "to": form["To"], "from": form["From"], "body": form.get("Body"),
                  "content_sid": form.get("ContentSid"),
                  "content_variables": json.loads(form["ContentVariables"]) if form.get("ContentVariables") else None,
                  "status_callback": form.get("StatusCallback"), "form": form, "at": time.time()}
        self.sent.append(record)
        if record["status_callback"]:
            task = asyncio.get_running_loop().create_task(self._report(record, behaviour))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return {"sid": sid, "account_sid": self.account_sid, "to": record["to"], "from": record["from"],
                "body": record["body"] or "", "status": "queued", "direction": "outbound-api",
                "num_segments": "1", "num_media": "0", "error_code": None, "error_message": None,
                "price": None, "api_version": "2010-04-01", "date_created": time.strftime(
                    "%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"}

    async def _report(self, record: dict[str, Any], failure: dict[str, Any] | None) -> None:
        steps = ["queued", failure["callback"]] if failure else ["queued", "sent", "delivered", "read"]
        for status in steps:
            await asyncio.sleep(self.status_delay_s)
            form = {"ApiVersion": "2010-04-01", "AccountSid": self.account_sid, "ChannelPrefix": "whatsapp",
                    "MessageSid": record["sid"], "SmsSid": record["sid"], "MessageStatus": status,
                    "SmsStatus": status, "To": record["to"], "From": record["from"],
                    "StructuredMessage": "false"}
            if failure and status == failure["callback"]:
                form["ErrorCode"] = str(failure["code"])
                if failure["message"]:
                    form["ErrorMessage"] = failure["message"]
            await self._post(record["status_callback"], form)

    async def _post(self, url: str, form: dict[str, str]) -> int | None:
        client = self._client or httpx.AsyncClient(timeout=10)
        try:
            status = (await client.post(url, data=form, headers={
                "x-twilio-signature": self.sign(url, form)})).status_code
        except httpx.TransportError:
            status = None
        finally:
            if client is not self._client:
                await client.aclose()
        self.callbacks.append({"url": url, "form": form, "http_status": status})
        return status

    async def send_customer_message(self, wa_id: str, text: str, name: str = "Customer") -> str:
        """The customer writes: a signed inbound WhatsApp form to `webhook_url` (from the
        caller's loop). Returns its MessageSid; raises unless the webhook answered 2xx."""
        if not self.webhook_url:
            raise RuntimeError("FakeTwilio has no webhook_url to deliver to")
        sid = f"SM{uuid.uuid4().hex}"
        form = {"SmsMessageSid": sid, "NumMedia": "0", "ProfileName": name, "MessageType": "text",
                "SmsSid": sid, "WaId": wa_id, "SmsStatus": "received", "Body": text,
                "To": self.from_number, "NumSegments": "1", "ReferralNumMedia": "0",
                "MessageSid": sid, "AccountSid": self.account_sid, "From": f"whatsapp:+{wa_id}",
                "ApiVersion": "2010-04-01"}
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(self.webhook_url, data=form, headers={
                "x-twilio-signature": self.sign(self.webhook_url, form)})
        if response.status_code >= 300:
            raise RuntimeError(f"webhook refused the message (HTTP {response.status_code})")
        return sid


def main(argv: list[str] | None = None) -> None:
    """Run the fake as its own process, for a local trial of the Twilio channel."""
    parser = argparse.ArgumentParser(prog="python -m server.simulator.fake_twilio",
                                     description="A fake Twilio Messages API over HTTP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--account-sid", default="AC" + "0" * 32)
    parser.add_argument("--auth-token", default="fake-twilio-auth-token")
    parser.add_argument("--from-number", default="whatsapp:+14155238886")
    parser.add_argument("--webhook-url", default=None, help="where customer messages go")
    parser.add_argument("--status-delay-s", type=float, default=0.5)
    args = parser.parse_args(argv)
    fake = FakeTwilio(args.account_sid, args.auth_token, args.from_number,
                      webhook_url=args.webhook_url, status_delay_s=args.status_delay_s)
    print(f"fake Twilio on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(fake.app, host=args.host, port=args.port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
