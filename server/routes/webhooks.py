"""WhatsApp webhooks: verify, normalise, store durably, schedule, acknowledge. Nothing else.

No model call and no graph run happen in the request: Meta expects a fast 200, and retries
what it does not get. A message is acknowledged only once it is committed to Postgres; if
Postgres cannot take it, the answer is 503 so that the provider retries.
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import parse_qsl

import psycopg
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from psycopg_pool import PoolTimeout

from server import inbox, outbox
from server.channels import meta, twilio
from server.channels.models import MalformedPayload, WebhookBatch
from server.deps import RuntimeDep
from server.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])
DB_WAIT_S = 2.0
"""How long a webhook waits for a database connection before answering 503."""


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body (signatures cover the exact bytes), refusing more than `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, "body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, "body too large")
    return bytes(body)


async def accept(runtime: Runtime, batch: WebhookBatch) -> dict:
    """Store messages and statuses in one transaction, then schedule the conversations."""
    try:
        async with runtime.pool.connection(timeout=DB_WAIT_S) as conn, conn.transaction():
            new = [m for m in batch.messages if await inbox.store(conn, m)]
            for status in batch.statuses:
                await outbox.apply_status(conn, status)
    except (PoolTimeout, psycopg.OperationalError) as error:
        log.error("database unavailable, asking the provider to retry: %s", type(error).__name__)
        raise HTTPException(503, "storage unavailable, retry later") from error
    due_at = time.time() + runtime.settings.debounce_s
    for conversation_key in dict.fromkeys(m.customer_key for m in new if m.needs_turn):
        # Stored but unscheduled messages (Redis down) are found again by the worker's sweep.
        try:
            await runtime.scheduler.mark_due(conversation_key, due_at)
        except Exception:  # noqa: BLE001
            log.exception("could not schedule %s; the sweep will", conversation_key)
    return {"stored": len(new), "duplicates": len(batch.messages) - len(new),
            "statuses": len(batch.statuses)}


@router.get("/meta", response_class=PlainTextResponse)
async def meta_subscribe(request: Request, runtime: RuntimeDep) -> str:
    """Meta's subscription check: echo hub.challenge when the verify token matches."""
    challenge = meta.verify_subscription(
        request.query_params, runtime.settings.meta.verify_token.get_secret_value())
    if challenge is None:
        raise HTTPException(403, "verification failed")
    return challenge


@router.post("/meta")
async def meta_webhook(request: Request, runtime: RuntimeDep) -> dict:
    body = await read_body(request, runtime.settings.max_body_bytes)
    signature = request.headers.get("x-hub-signature-256")
    if not signature:
        raise HTTPException(401, "missing X-Hub-Signature-256")
    if not meta.verify_signature(runtime.settings.meta.app_secret.get_secret_value(), body, signature):
        raise HTTPException(403, "invalid signature")
    try:
        batch = meta.parse_webhook(json.loads(body))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise HTTPException(400, "body is not JSON") from error
    except MalformedPayload as error:
        raise HTTPException(400, f"malformed webhook: {error}") from error
    return await accept(runtime, batch)


@router.post("/twilio")
async def twilio_webhook(request: Request, runtime: RuntimeDep) -> Response:
    settings = runtime.settings.twilio
    if settings.auth_token is None:
        raise HTTPException(404, "Twilio channel not configured")
    body = await read_body(request, runtime.settings.max_body_bytes)
    try:
        form = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body)))
    except (UnicodeDecodeError, ValueError) as error:
        raise HTTPException(400, "body is not a form") from error
    url = settings.public_url or str(request.url)
    signature = request.headers.get("x-twilio-signature")
    if not signature:
        raise HTTPException(401, "missing X-Twilio-Signature")
    if not twilio.verify_signature(settings.auth_token.get_secret_value(), url, form, signature):
        raise HTTPException(403, "invalid signature")
    try:
        batch = twilio.parse_form(form)
    except MalformedPayload as error:
        raise HTTPException(400, f"malformed webhook: {error}") from error
    await accept(runtime, batch)
    # An empty TwiML response: replies go out through the outbox, not in this response.
    return Response("<Response/>", media_type="application/xml")
