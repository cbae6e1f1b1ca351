"""A fake WhatsApp Cloud API, served over real HTTP, that behaves like Meta's where it matters.

- POST /{version}/{phone_number_id}/messages accepts text, template, interactive (reply
  buttons, list; recorded with their body as `text` and their titles as `choices`) and the
  mark-as-read (+ typing indicator) payload, checks the bearer token and Meta's length limits,
  and answers in Meta's shape.
- Every accepted message is followed by signed status webhooks (sent, delivered, read) to
  `webhook_url`, in Meta's webhook envelope, one POST each, as Meta sends them; they echo the
  send's `biz_opaque_callback_data`. A refused or unreachable webhook is retried in the
  background with growing pauses for `webhook_retry_s` (Meta keeps at it for much longer),
  while other webhooks go on. All of them share one HTTP client.
- `fail_next` injects Meta's errors: synchronously (an error response, as for 131056) or
  through a 'failed' status webhook (as Meta reports 131047 and 131050); `delay_next` makes
  sends answer late, as when a caller's timeout fires before Meta's answer.
- `send_customer_message` plays the customer: a signed inbound text webhook;
  `send_customer_media` sends a file, served by the media endpoints (fake_media.py).
- GET /{version}/{waba_id}/message_templates lists the account's templates in pages, and
  template sends are checked against them once any are added (fake_templates.py).

Mount `create_fake_cloud_api(...)` in an app, run a `FakeCloudApi` in a background thread
(`with FakeCloudApi(...) as fake:`), or run it as its own process
(`python -m server.simulator.fake_cloud_api --port 8081 --webhook-url ...`); all record into
the same `FakeCloudApi` object.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Literal

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from server.simulator.fake_media import FakeMedia, media_message
from server.simulator.fake_templates import FakeTemplates

TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
ERROR_TITLES = {
    131000: "Something went wrong",
    130429: "Rate limit hit",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    131047: "Re-engagement message",
    131050: "Unable to deliver the message. This recipient has chosen to stop receiving"
            " marketing messages on WhatsApp from your business",
    131026: "Message undeliverable",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template name does not exist in the translation",
}


def interactive_titles(interactive: dict[str, Any]) -> list[str]:
    """The titles of an interactive message's reply buttons or list rows, in order."""
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        return [(b.get("reply") or {}).get("title", "") for b in action.get("buttons") or []]
    return [r.get("title", "") for s in action.get("sections") or [] for r in s.get("rows") or []]


def interactive_problem(interactive: dict[str, Any]) -> str | None:
    """What Meta would refuse in a reply-button or list message (error 100), else None."""
    kind, action = interactive.get("type"), interactive.get("action") or {}
    body = (interactive.get("body") or {}).get("text") or ""
    if not body or len(body) > INTERACTIVE_BODY_LIMIT:
        return f"interactive.body.text must have 1 to {INTERACTIVE_BODY_LIMIT} characters"
    titles = interactive_titles(interactive)
    if kind == "button":
        if not 1 <= len(titles) <= 3 or any(not 1 <= len(t) <= 20 for t in titles):
            return "interactive.action.buttons: 1 to 3 buttons, titles of 1 to 20 characters"
    elif kind == "list":
        label = action.get("button") or ""
        if not 1 <= len(label) <= 20 or not 1 <= len(titles) <= 10 or any(
                not 1 <= len(t) <= 24 for t in titles):
            return "interactive.action: a button label of 1 to 20 characters, 1 to 10 rows of 1 to 24"
    else:
        return f"interactive.type {kind!r} is not supported here"
    return None


def sign_body(body: bytes, app_secret: str) -> str:
    """The X-Hub-Signature-256 value Meta sends: HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def new_wamid() -> str:
    """A message id shaped like the Cloud API's."""
    return "wamid." + base64.b64encode(os.urandom(30)).decode()


def meta_error(code: int, details: str | None = None) -> dict[str, Any]:
    """An error body shaped like the Cloud API's for the given code."""
    title = ERROR_TITLES.get(code, "Error")
    return {"message": f"(#{code}) {title}", "type": "OAuthException", "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details or title},
            "fbtrace_id": base64.b64encode(os.urandom(12)).decode()}


class ThreadServer:
    """uvicorn serving an app on a thread and event loop of its own."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *,
                 lifespan: Literal["auto", "on", "off"] = "off"):
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    lifespan=lifespan))
        self.host = host
        self.thread = threading.Thread(target=self.server.run, name="fake-http", daemon=True)

    def start(self) -> str:
        """Serve; returns the base URL once the socket listens."""
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake HTTP server did not start")
            time.sleep(0.01)
        bound = self.server.servers[0].sockets[0].getsockname()[1]  # port 0: the OS chose one
        return f"http://{self.host}:{bound}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@contextlib.contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` with uvicorn on its own thread and loop; yields its base URL."""
    server = ThreadServer(app, host, port)
    try:
        yield server.start()
    finally:
        server.stop()


class FakeCloudApi:
    """The fake and what it saw. `status_delay_s` spaces each status webhook after the send
    (Meta's take a second or so; a reply's 'sent' should not beat the sender's own record).
    A refused webhook is tried again after `webhook_retry_first_s`, then after pauses that
    double, until `webhook_retry_s` have passed since its first try."""

    def __init__(self, app_secret: str, webhook_url: str | None = None,
                 phone_number_id: str = "100000000000001",
                 display_phone_number: str = "15550000001", *, access_token: str | None = None,
                 waba_id: str = "200000000000001", status_delay_s: float = 0.25,
                 webhook_retry_s: float = 60.0, webhook_retry_first_s: float = 0.5):
        self.app_secret, self.webhook_url, self.access_token = app_secret, webhook_url, access_token
        self.phone_number_id, self.display_phone_number = phone_number_id, display_phone_number
        self.waba_id, self.status_delay_s = waba_id, status_delay_s
        self.webhook_retry_s, self.webhook_retry_first_s = webhook_retry_s, webhook_retry_first_s
        self.sent: list[dict[str, Any]] = []
        self.read_receipts: list[dict[str, Any]] = []
        self.webhooks: list[dict[str, Any]] = []
        """Every webhook POSTed: payload, the receiver's last HTTP status (None: unreachable)
        and how many tries it took."""
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        """Called on the server's loop with ("sent" | "read_receipt", record); must not block."""
        self.url: str | None = None
        self._behaviours: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._server: ThreadServer | None = None
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop that serves the fake and owns the client: every webhook is posted there."""
        self.media = FakeMedia(access_token, meta_error)
        """Files customers send: GET /{version}/{media_id} and its download URL (fake_media.py)."""
        self.templates = FakeTemplates(waba_id, access_token, meta_error)
        """The account's message templates: GET /{version}/{waba_id}/message_templates (fake_templates.py)."""
        self.app = self._build_app()

    # --- Test controls --------------------------------------------------------------------

    def fail_next(self, code: int | None, http_status: int = 400, times: int = 1, *,
                  via_webhook: bool = False, delay_s: float = 0.0) -> None:
        """Fail the next `times` message sends with Meta error `code` (None: a bare HTTP error,
        as from a proxy). `via_webhook`: accept the send, then report a 'failed' status.
        `delay_s`: answer only after that long."""
        self._queue(times, code=code, http_status=http_status, via_webhook=via_webhook,
                    fails=not via_webhook, delay_s=delay_s)

    def delay_next(self, delay_s: float, times: int = 1) -> None:
        """Accept the next `times` message sends, but answer each only after `delay_s`."""
        self._queue(times, code=None, http_status=200, via_webhook=False, fails=False,
                    delay_s=delay_s)

    def _queue(self, times: int, **behaviour: Any) -> None:
        with self._lock:
            self._behaviours.extend(dict(behaviour) for _ in range(times))

    def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeCloudApi:
        self._server = ThreadServer(self.app, host, port, lifespan="on")
        self.url = self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # its lifespan's end closes the client (see aclose)
            self._server, self.url = None, None

    def __enter__(self) -> FakeCloudApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeCloudApi:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    async def aclose(self) -> None:
        """Drop the webhooks still being retried and close the client (on the serving loop)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
        self._client, self._loop = None, None

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        self._loop = asyncio.get_running_loop()
        try:
            yield
        finally:
            await self.aclose()

    # --- Webhooks out ---------------------------------------------------------------------

    def envelope(self, value: dict[str, Any]) -> dict[str, Any]:
        """Meta's webhook envelope around one change value."""
        return {"object": "whatsapp_business_account", "entry": [{"id": self.waba_id, "changes": [{
            "field": "messages",
            "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": self.display_phone_number,
                                   "phone_number_id": self.phone_number_id}, **value}}]}]}

    def _http(self) -> httpx.AsyncClient:
        """The one client for every webhook, made on the loop that serves the fake (mounted in
        an app, that app's loop; it is closed with the process then)."""
        if self._client is None:
            self._loop = asyncio.get_running_loop()
            self._client = httpx.AsyncClient(timeout=10)
        return self._client

    async def _on_serving_loop(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        """Run `coroutine` on the serving loop, which owns the client, from whichever loop."""
        if self._loop is None or self._loop is asyncio.get_running_loop():
            return await coroutine
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    async def _post_once(self, payload: dict[str, Any]) -> int | None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"content-type": "application/json",
                   "x-hub-signature-256": sign_body(body, self.app_secret)}
        if not self.webhook_url:
            return None
        try:
            return (await self._http().post(self.webhook_url, content=body, headers=headers)).status_code
        except httpx.TransportError:
            return None

    async def post_webhook(self, payload: dict[str, Any], attempts: int = 3) -> int | None:
        """POST a signed webhook and wait for the verdict, with a few quick tries (for a
        caller that waits, such as the customer typing); returns the last HTTP status."""
        async def post() -> int | None:
            for attempt in range(attempts):
                status = await self._post_once(payload)
                if status is not None and status < 300:
                    break
                if attempt + 1 < attempts:
                    await asyncio.sleep(0.2 * (attempt + 1))
            self.webhooks.append({"payload": payload, "http_status": status, "tries": attempt + 1})
            return status
        return await self._on_serving_loop(post())

    def deliver(self, payload: dict[str, Any]) -> None:
        """Deliver a webhook in the background, as Meta does: a refused or unreachable one is
        tried again with doubling pauses for `webhook_retry_s`, and no other waits for it."""
        self._keep(asyncio.get_running_loop().create_task(self._deliver(payload)))

    async def _deliver(self, payload: dict[str, Any]) -> None:
        deadline = time.monotonic() + self.webhook_retry_s
        pause, tries = self.webhook_retry_first_s, 0
        while True:
            status, tries = await self._post_once(payload), tries + 1
            left = deadline - time.monotonic()
            if (status is not None and status < 300) or left <= 0:
                break
            await asyncio.sleep(min(pause, left))
            pause *= 2
        self.webhooks.append({"payload": payload, "http_status": status, "tries": tries})

    def _keep(self, task: asyncio.Task) -> None:
        self._tasks.add(task)  # keep a reference until done, or the loop may drop it
        task.add_done_callback(self._tasks.discard)

    async def send_customer_message(self, wa_id: str, text: str, name: str = "Customer", *,
                                    timestamp: float | None = None) -> str:
        """The customer writes: POST a signed inbound text webhook. Returns its message id."""
        message_id = new_wamid()
        await self._post_or_raise(self.envelope({
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": message_id, "timestamp": str(int(timestamp or time.time())),
                          "type": "text", "text": {"body": text}}]}))
        return message_id

    async def send_customer_media(self, wa_id: str, kind: str, data: bytes, mime_type: str, *,
                                  caption: str | None = None, filename: str | None = None,
                                  voice: bool = False, name: str = "Customer") -> str:
        """The customer sends a file (kind: image, audio, video, document, sticker; a voice
        note is audio with `voice`): the file is served at its media id, then a signed webhook
        names it. Returns the message id."""
        message_id, media_id = new_wamid(), self.media.add(data, mime_type)
        await self._post_or_raise(self.envelope({
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": message_id, "timestamp": str(int(time.time())),
                          **media_message(kind, media_id, data, mime_type, caption=caption,
                                          filename=filename, voice=voice)}]}))
        return message_id

    async def _post_or_raise(self, payload: dict[str, Any]) -> None:
        if not self.webhook_url:
            raise RuntimeError("FakeCloudApi has no webhook_url to deliver to")
        status = await self.post_webhook(payload)
        if status is None or status >= 300:
            raise RuntimeError(f"webhook refused the message (HTTP {status})")

    def status_value(self, message: dict[str, Any], status: str,
                     errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        recipient = "recipient_user_id" if message.get("by_user_id") else "recipient_id"
        entry: dict[str, Any] = {"id": message["id"], "status": status,
                                 "timestamp": str(int(time.time())), recipient: message["to"]}
        if message.get("biz_opaque_callback_data"):
            entry["biz_opaque_callback_data"] = message["biz_opaque_callback_data"]
        if status in ("sent", "delivered"):
            category = "utility" if message["type"] == "template" else "service"
            entry["conversation"] = {"id": hashlib.md5(message["to"].encode()).hexdigest(),
                                     "origin": {"type": category}}
            entry["pricing"] = {"billable": category != "service", "pricing_model": "PMP",
                                "category": category}
        if errors:
            entry["errors"] = errors
        return {"statuses": [entry]}

    async def _report(self, message: dict[str, Any], failure: dict[str, Any] | None) -> None:
        if not self.webhook_url:
            return
        if failure:
            error = meta_error(failure["code"] or 131026)
            steps: list[tuple[str, list[dict[str, Any]] | None]] = [("failed", [{"code": error["code"], "title": ERROR_TITLES.get(error["code"], "Error"),
                                  "message": error["message"], "error_data": error["error_data"]}])]
        else:
            steps = [("sent", None), ("delivered", None), ("read", None)]
        for status, errors in steps:
            await asyncio.sleep(self.status_delay_s)
            self.deliver(self.envelope(self.status_value(message, status, errors)))

    # --- The Graph API --------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="Fake WhatsApp Cloud API", docs_url=None, redoc_url=None,
                      lifespan=self._lifespan)
        app.state.fake = self
        app.add_api_route("/{version}/{phone_number_id}/messages", self._messages, methods=["POST"])
        self.media.mount(app)
        self.templates.mount(app)
        return app

    def _notify(self, event: str, record: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(event, record)

    async def _messages(self, version: str, phone_number_id: str, request: Request) -> Response:
        requested_at = time.time()
        if self.access_token and request.headers.get("authorization") != f"Bearer {self.access_token}":
            error = {**meta_error(190), "message": "Invalid OAuth access token - Cannot parse access token"}
            return JSONResponse({"error": error}, status_code=401)
        if phone_number_id != self.phone_number_id:
            return JSONResponse({"error": meta_error(100, f"Unknown phone number id {phone_number_id}")}, 400)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": meta_error(100, "Body is not JSON")}, 400)
        if body.get("messaging_product") != "whatsapp":
            return JSONResponse({"error": meta_error(100, "messaging_product must be whatsapp")}, 400)
        if body.get("status") == "read":
            record = {"message_id": body.get("message_id"),
                      "typing": (body.get("typing_indicator") or {}).get("type"), "payload": body}
            self.read_receipts.append(record)
            self._notify("read_receipt", record)
            return JSONResponse({"success": True})
        text = (body.get("text") or {}).get("body")
        if body.get("type") == "text" and len(text or "") > TEXT_LIMIT:
            return JSONResponse({"error": meta_error(100, f"text.body is over {TEXT_LIMIT} characters")}, 400)
        if body.get("type") == "template" and (refused := self.templates.refusal(body.get("template") or {})):
            return JSONResponse({"error": meta_error(*refused)}, 400)
        interactive = body.get("interactive") if body.get("type") == "interactive" else None
        if interactive is not None:
            if problem := interactive_problem(interactive):
                return JSONResponse({"error": meta_error(100, problem)}, 400)
            text = (interactive.get("body") or {}).get("text")
        with self._lock:
            behaviour = self._behaviours.popleft() if self._behaviours else None
        if behaviour and behaviour["delay_s"]:
            await asyncio.sleep(behaviour["delay_s"])
        if behaviour and behaviour["fails"]:
            if behaviour["code"] is None:
                return PlainTextResponse("upstream error", status_code=behaviour["http_status"])
            return JSONResponse({"error": meta_error(behaviour["code"])}, behaviour["http_status"])
        # A customer who shares only a username is sent to by BSUID, in `recipient`, not `to`.
        by_user_id = not body.get("to") and bool(body.get("recipient"))
        to = str(body.get("recipient") if by_user_id else body.get("to"))
        record = {"id": new_wamid(), "to": to, "by_user_id": by_user_id, "type": body.get("type"),
                  "text": text, "interactive": interactive,
                  "choices": interactive_titles(interactive) if interactive else None,
                  "template": body.get("template"), "context": body.get("context"),
                  "biz_opaque_callback_data": body.get("biz_opaque_callback_data"),
                  "payload": body, "requested_at": requested_at, "at": time.time()}
        self.sent.append(record)
        self._notify("sent", record)
        failure = behaviour if behaviour and behaviour["via_webhook"] else None
        self._keep(asyncio.get_running_loop().create_task(self._report(record, failure)))
        message = {"id": record["id"], **({"message_status": "accepted"} if record["type"] == "template" else {})}
        return JSONResponse({"messaging_product": "whatsapp",
                             "contacts": [{"input": to, "wa_id": to}], "messages": [message]})


def create_fake_cloud_api(app_secret: str, webhook_url: str | None,
                          phone_number_id: str = "100000000000001",
                          display_phone_number: str = "15550000001", **options: Any) -> FastAPI:
    """The fake as an ASGI app to mount (e.g. at /fake-graph); its recorder is app.state.fake."""
    return FakeCloudApi(app_secret, webhook_url, phone_number_id, display_phone_number, **options).app


def parse_args(argv: list[str] | None = None,
               prog: str = "python -m server.simulator.fake_cloud_api") -> argparse.Namespace:
    """Command-line options of the fake Cloud API."""
    parser = argparse.ArgumentParser(prog=prog, description="A fake WhatsApp Cloud API over HTTP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--webhook-url", required=True, help="where status webhooks go, e.g."
                        " http://127.0.0.1:8000/webhooks/meta")
    parser.add_argument("--app-secret", default="simulator-app-secret", help="signs the webhooks")
    parser.add_argument("--access-token", default="simulator-access-token",
                        help="the bearer token sends must carry ('' accepts any)")
    parser.add_argument("--phone-number-id", default="100000000000001")
    parser.add_argument("--status-delay-s", type=float, default=0.25)
    parser.add_argument("--webhook-retry-s", type=float, default=60.0)
    return parser.parse_args(argv)


def from_args(args: argparse.Namespace) -> FakeCloudApi:
    """The fake Cloud API the options describe."""
    return FakeCloudApi(args.app_secret, args.webhook_url, args.phone_number_id,
                        access_token=args.access_token or None, status_delay_s=args.status_delay_s,
                        webhook_retry_s=args.webhook_retry_s)


def serve(fake: FakeCloudApi, host: str, port: int) -> None:
    """Serve the fake in this process until stopped. Idle connections are kept a minute, as
    a provider's edge does (uvicorn's 5 s would race clients that keep them as long)."""
    print(f"fake Cloud API on http://{host}:{port}, webhooks to {fake.webhook_url}", flush=True)
    uvicorn.run(fake.app, host=host, port=port, log_level="warning", lifespan="on",
                timeout_keep_alive=60)


def main(argv: list[str] | None = None) -> None:
    """Run the fake as its own process, e.g. to load-test a server without the simulator in it."""
    args = parse_args(argv)
    serve(from_args(args), args.host, args.port)


if __name__ == "__main__":
    main()
