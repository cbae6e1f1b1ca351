"""WhatsApp webhooks: verify, normalise, store durably, schedule, acknowledge. Nothing else.

No model call and no graph run happen in the request: Meta expects a fast 200, and retries
what it does not get. A message is acknowledged only once it is committed to Postgres; if
Postgres cannot take it, the answer is 503 so that the provider retries.

The two POST endpoints are plain Starlette endpoints on the FastAPI router: they take the raw
signed body and nothing else, so FastAPI's validation, dependency solving and response
serialisation would have nothing to do but cost time; without them a worker acknowledges about
a third more webhooks (docs/benchmarks.md, "Webhook acknowledgement").

Malformed input gets a 4xx and stores nothing: a body of the wrong media type 415, too large
413, not strict JSON or not a form (repeated or too many fields) 400, a delivery with nothing
usable in it 400. A Meta delivery with some malformed messages among good ones stores the good
ones and answers 200 with `rejected` counting the others, which are logged (see channels.meta).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from opentelemetry import trace

from server import tracing
from server.channels import meta, twilio
from server.channels.models import MalformedPayload, WebhookBatch
from server.deps import ServerDep, server_parts
from server.inbound.intake import StorageUnavailable
from server.metrics import WEBHOOK_ACK, WEBHOOKS
from server.parts import ServerParts
from server.request_guards import BadJson

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])
MAX_FORM_FIELDS = 256
"""Twilio's forms have a few dozen fields; parsing (and signing) a million would be a DoS."""


def require_media_type(request: Request, expected: str) -> None:
    """415 unless the request has the expected content type."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != expected:
        raise HTTPException(415, f"content type must be {expected}")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body (signatures cover the exact bytes), refusing more than `limit` bytes."""
    declared = request.headers.get("content-length") or ""
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise HTTPException(413, "body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, "body too large")
    return bytes(body)


async def accept(runtime: ServerParts, batch: WebhookBatch, request: Request | None = None) -> dict:
    """Store messages and statuses (in one statement or transaction with concurrent webhooks),
    then schedule the conversations; 503 when Postgres cannot take them. The request learns
    whether the delivery was only a provider's retry (`only_duplicates`, for the metrics)."""
    for message in batch.messages:
        if message.truncated_from:
            log.info("%s message %s cut from %d to %d characters", message.provider,
                     message.provider_message_id, message.truncated_from, len(message.text))
    if batch.rejected:  # the reasons name fields and types, never message content
        log.warning("webhook: kept %d messages and %d statuses, rejected %d: %s",
                    len(batch.messages), len(batch.statuses), len(batch.rejected),
                    "; ".join(batch.rejected[:5]))
    span = trace.get_current_span()
    if span.is_recording():  # the webhook span, opened by `observed`
        span.set_attributes(tracing.conversation_attributes(m.conversation_id for m in batch.messages))
    try:
        accepted = (await runtime.intake.accept(batch)).as_dict()
    except StorageUnavailable as error:
        raise HTTPException(503, str(error)) from error
    if request is not None:
        request.state.only_duplicates = bool(accepted["duplicates"]) and not (
            accepted["stored"] or accepted["statuses"])
    return {**accepted, "rejected": len(batch.rejected)} if batch.rejected else accepted


@router.get("/meta", response_class=PlainTextResponse)
async def meta_subscribe(request: Request, runtime: ServerDep) -> str:
    """Meta's subscription check: echo hub.challenge when the verify token matches."""
    challenge = meta.verify_subscription(
        request.query_params, runtime.settings.meta.verify_token.get_secret_value())
    if challenge is None:
        raise HTTPException(403, "verification failed")
    return challenge


_OUTCOMES = {400: "malformed", 401: "unauthorized", 403: "unauthorized", 404: "unauthorized",
             413: "malformed", 415: "malformed", 503: "unavailable"}


def observed(channel: str, handler: Callable[[Request], Awaitable[Response]]
             ) -> Callable[[Request], Awaitable[Response]]:
    """The webhook endpoint counted by outcome and timed (switchboard_webhooks_total,
    switchboard_webhook_ack_seconds: 2xx answers only), inside a `webhook` span."""
    counted = {outcome: WEBHOOKS.labels(channel=channel, outcome=outcome)
               for outcome in ("accepted", "duplicate", "error", *_OUTCOMES.values())}
    ack = WEBHOOK_ACK.labels(channel=channel)

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        with tracing.span("webhook", kind=trace.SpanKind.SERVER,
                          attributes={"switchboard.channel": channel}) as span:
            try:
                response = await handler(request)
            except HTTPException as error:
                counted[_OUTCOMES.get(error.status_code, "malformed")].inc()
                span.set_attribute("http.response.status_code", error.status_code)
                raise
            except Exception:
                counted["error"].inc()
                raise
            ack.observe(time.perf_counter() - started)
            counted["duplicate" if getattr(request.state, "only_duplicates", False)
                    else "accepted"].inc()
            return response
    return endpoint


async def meta_webhook(request: Request) -> JSONResponse:
    """WhatsApp Cloud API webhook: signature checked, messages and statuses stored, turns
    scheduled."""
    runtime = await server_parts(request)
    require_media_type(request, "application/json")
    body = await read_body(request, runtime.settings.max_body_bytes)
    signature = request.headers.get("x-hub-signature-256")
    if not signature:
        raise HTTPException(401, "missing X-Hub-Signature-256")
    if not meta.verify_signature(runtime.settings.meta.app_secret.get_secret_value(), body, signature):
        raise HTTPException(403, "invalid signature")
    try:
        batch = meta.parse_webhook(meta.load_json(body))
    except BadJson as error:
        raise HTTPException(400, str(error)) from error
    except MalformedPayload as error:
        raise HTTPException(400, f"malformed webhook: {error}") from error
    return JSONResponse(await accept(runtime, batch, request))


def twilio_signed_url(public_url: str | None, request: Request) -> str:
    """The URL Twilio signed: the configured public one (behind proxies the request URL
    differs) with the query this request came with, such as a status callback's outbox id."""
    if not public_url:
        return str(request.url)
    return urlunsplit(urlsplit(public_url)._replace(query=request.url.query))


async def twilio_webhook(request: Request) -> Response:
    """Twilio webhook: signature checked, the message or status stored, the turn scheduled."""
    runtime = await server_parts(request)
    settings = runtime.settings.twilio
    if settings.auth_token is None:
        raise HTTPException(404, "Twilio channel not configured")
    require_media_type(request, "application/x-www-form-urlencoded")
    body = await read_body(request, runtime.settings.max_body_bytes)
    form = parse_form(body)
    url = twilio_signed_url(settings.public_url, request)
    signature = request.headers.get("x-twilio-signature")
    if not signature:
        raise HTTPException(401, "missing X-Twilio-Signature")
    if not twilio.verify_signature(settings.auth_token.get_secret_value(), url, form, signature):
        raise HTTPException(403, "invalid signature")
    try:
        # Our status callbacks name the outbox row in the query (see outbox.TwilioSender).
        batch = twilio.parse_form(form, outbox_id=request.query_params.get("outbox_id"))
    except MalformedPayload as error:
        raise HTTPException(400, f"malformed webhook: {error}") from error
    await accept(runtime, batch, request)
    # An empty TwiML response: replies go out through the outbox, not in this response.
    return Response("<Response/>", media_type="application/xml")


def parse_form(body: bytes) -> dict[str, str]:
    """A Twilio form body as a dict; 400 for anything but a UTF-8 form of distinct fields."""
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body),
                          max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError) as error:
        raise HTTPException(400, "body is not a form") from error
    form = dict(pairs)
    if len(form) != len(pairs):  # which value would count? the signature covers them all
        raise HTTPException(400, "form repeats a field")
    return form


# Plain routes do not take the router's prefix by themselves.
router.add_route(f"{router.prefix}/meta", observed("meta", meta_webhook), methods=["POST"])
router.add_route(f"{router.prefix}/twilio", observed("twilio", twilio_webhook), methods=["POST"])
