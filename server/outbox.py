"""The outbox: the one send path for bot (and later human) replies to WhatsApp.

A turn commits its replies here in its own transaction, under idempotency keys, so a re-run
turn inserts nothing new. `OutboxWorker` sends due rows in order per recipient, paced per
business number and per recipient, retries what Meta says is transient and records the rest.

Delivery is at-most-once: a row is marked 'sending' before the call and 'sent' after it. If
the worker dies in between, nobody knows whether Meta accepted the message, and the Cloud API
has no idempotency key to ask it; the row becomes 'unknown' after a lease instead of being
sent again, because a lost reply is visible in the inbox while a double send is not undoable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)
WHATSAPP_TEXT_LIMIT = 4096
CUSTOMER_WINDOW = timedelta(hours=24)
STATUSES = ("pending", "sending", "sent", "delivered", "read", "failed", "dead", "skipped", "unknown")
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS outbox (
    id bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    conversation_key text NOT NULL,
    recipient text NOT NULL,
    provider text NOT NULL CHECK (provider IN ('meta', 'twilio')),
    kind text NOT NULL CHECK (kind IN ('text', 'template', 'read_receipt')),
    body text, template jsonb, reply_to_message_id text,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN {STATUSES!r}),
    provider_message_id text,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now());
CREATE UNIQUE INDEX IF NOT EXISTS outbox_provider_message_id
    ON outbox (provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS outbox_open_per_recipient
    ON outbox (provider, recipient, id) WHERE status IN ('pending', 'sending');
CREATE INDEX IF NOT EXISTS outbox_in_flight ON outbox (updated_at) WHERE status = 'sending';
"""


async def setup(pool: AsyncConnectionPool) -> None:
    """Create the table; the advisory lock keeps concurrent first starts from racing on DDL."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('switchboard.outbox'))")
        await conn.execute(SCHEMA, prepare=False)


# --- Splitting --------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?…][\"')\]]*\s")


def split_for_whatsapp(text: str, limit: int = WHATSAPP_TEXT_LIMIT) -> list[str]:
    """Parts of at most `limit` characters, cut at a paragraph, else a sentence, else a word,
    else hard. A boundary in the first half of a part is passed over for a finer one, so
    one early blank line does not leave a tiny first message."""
    parts: list[str] = []
    text = text.strip()
    while len(text) > limit:
        window = text[: limit + 1]  # a boundary right after the limit still fits
        cut = window.rfind("\n\n")
        if cut < limit // 2:
            sentences = [m.end() - 1 for m in _SENTENCE_END.finditer(window)]
            cut = sentences[-1] if sentences else -1
        if cut < limit // 2:
            cut = max(window.rfind(" "), window.rfind("\n"), window.rfind("\t"))
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*parts, text] if text else parts


# --- Enqueueing and statuses ------------------------------------------------------------------

_INSERT = ("INSERT INTO outbox (idempotency_key, conversation_key, recipient, provider, kind, body,"
           " template, reply_to_message_id, next_attempt_at, created_at, updated_at)"
           " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
           " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id")


async def enqueue_reply(conn: AsyncConnection, *, conversation_key: str, recipient: str,
                        provider: str, texts: Sequence[str], idempotency_key: str,
                        last_customer_at: datetime, now: datetime,
                        window_template: Mapping[str, Any], reply_to: str | None = None) -> list[int]:
    """Queue one turn's replies in the caller's transaction; returns the ids of new rows
    (none when this key was queued before, as when a crashed turn is re-run).

    Outside the 24-hour customer window WhatsApp refuses free text, so the approved
    re-engagement template goes instead (the replies themselves stay in the conversation's
    history). Parts share the key space `{key}:{i}`, so a re-run that lands on the other
    side of the window still cannot send both a text and a template."""
    if now - last_customer_at > CUSTOMER_WINDOW:
        rows = [("template", None, json.dumps(dict(window_template)))]
    else:
        rows = [("text", part, None) for text in texts for part in split_for_whatsapp(text)]
    ids = []
    for i, (kind, body, template) in enumerate(rows):
        cursor = await conn.execute(_INSERT, (
            f"{idempotency_key}:{i}", conversation_key, recipient, provider, kind, body, template,
            reply_to if i == 0 else None, now, now, now))
        if row := await cursor.fetchone():
            ids.append(row["id"] if isinstance(row, Mapping) else row[0])
    return ids


async def enqueue_read_receipt(conn: AsyncConnection, *, provider: str, recipient: str,
                               inbound_message_id: str, conversation_key: str) -> int | None:
    """Queue "read + typing" for an inbound message, at most once per message."""
    now = datetime.now(UTC)
    cursor = await conn.execute(_INSERT, (
        f"read:{provider}:{inbound_message_id}", conversation_key, recipient, provider,
        "read_receipt", None, None, inbound_message_id, now, now, now))
    row = await cursor.fetchone()
    return None if row is None else (row["id"] if isinstance(row, Mapping) else row[0])


# A status moves a row only from these earlier states: webhooks arrive out of order and are
# retried, and a late 'delivered' must not undo 'read'. 'failed' can follow 'sent' only.
_MOVES_FROM = {
    "sent": ("sending", "unknown"),
    "delivered": ("sending", "unknown", "sent"),
    "read": ("sending", "unknown", "sent", "delivered"),
    "failed": ("sending", "unknown", "sent"),
}
_PROVIDER_STATUS = {"undelivered": "failed"}  # Twilio's word for a failed delivery


def _get(update: Any, name: str) -> Any:
    return update.get(name) if isinstance(update, Mapping) else getattr(update, name, None)


async def apply_status(conn: AsyncConnection, update: Any) -> bool:
    """Apply a delivery status (a mapping or an object with provider_message_id, status,
    errors, at). True when it moved a row forward; unknown ids and stale or unknown
    statuses (e.g. Twilio's 'queued') change nothing."""
    status = _PROVIDER_STATUS.get(_get(update, "status"), _get(update, "status"))
    message_id, errors, at = (_get(update, k) for k in ("provider_message_id", "errors", "at"))
    if status not in _MOVES_FROM or not message_id:
        return False
    if isinstance(at, int | float) or (isinstance(at, str) and at.isdigit()):
        at = datetime.fromtimestamp(float(at), UTC)  # Meta sends epoch seconds as a string
    cursor = await conn.execute(
        "UPDATE outbox SET status = %s, last_error = COALESCE(%s::jsonb, last_error),"
        " updated_at = COALESCE(%s, now()) WHERE provider_message_id = %s AND status = ANY(%s)",
        (status, json.dumps(errors, default=str) if errors else None,
         at if isinstance(at, datetime) else None, message_id, list(_MOVES_FROM[status])))
    return cursor.rowcount == 1


# --- Senders ----------------------------------------------------------------------------------

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
    async def send_text(self, recipient: str, body: str, reply_to: str | None) -> str: ...
    async def send_template(self, recipient: str, name: str, language: str,
                            params: list[dict] | None) -> str: ...
    async def mark_read_and_typing(self, inbound_message_id: str) -> None: ...


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
        self.session = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=5.0))
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

    async def send_text(self, recipient: str, body: str, reply_to: str | None = None) -> str:
        return (await self._call(self.client.send_message(
            to=recipient, text=body, reply_to_message_id=reply_to))).id

    async def send_template(self, recipient: str, name: str, language: str,
                            params: list[dict] | None = None) -> str:
        from pywa_async.types.templates import TemplateLanguage

        return (await self._call(self.client.send_template(
            to=recipient, name=name, language=TemplateLanguage(language), params=params))).id

    async def mark_read_and_typing(self, inbound_message_id: str) -> None:
        # pywa's indicate_typing posts {"status": "read", "typing_indicator": {"type": "text"}}:
        # one call marks the message read and shows "typing…" (until the reply or 25 s).
        await self._call(self.client.indicate_typing(inbound_message_id))

    async def aclose(self) -> None:
        await self.session.aclose()


class TwilioSender:
    """Twilio's WhatsApp channel through the twilio SDK (sync, so run in a thread).

    `base_url` replaces https://api.twilio.com via a custom http client, for a fake or proxy.
    Twilio has no read receipts or typing indicator in this API: mark_read_and_typing raises
    NotImplementedError and the worker records the row as 'skipped'."""

    def __init__(self, *, account_sid: str, auth_token: str, from_number: str,
                 base_url: str | None = None):
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        class RebasedHttpClient(TwilioHttpClient):
            def request(self, method, url, *args, **kwargs):  # type: ignore[override]
                if base_url:
                    url = url.replace("https://api.twilio.com", base_url.rstrip("/"), 1)
                return super().request(method, url, *args, **kwargs)

        self.from_number = from_number
        self.client = Client(account_sid, auth_token, http_client=RebasedHttpClient(timeout=15))

    @staticmethod
    def _address(recipient: str) -> str:
        return recipient if recipient.startswith("whatsapp:") else f"whatsapp:+{recipient.lstrip('+')}"

    async def _create(self, **fields: Any) -> str:
        from requests.exceptions import ConnectionError as RequestsConnectionError
        from requests.exceptions import ConnectTimeout
        from twilio.base.exceptions import TwilioRestException

        try:
            message = await asyncio.to_thread(self.client.messages.create, from_=self.from_number,
                                              **fields)
        except TwilioRestException as error:
            raise SendError(error.code, error.status, error.msg) from error
        except ConnectTimeout as error:
            raise SendUnreachable(None, None, "connect timeout") from error
        except RequestsConnectionError as error:
            raise SendOutcomeUnknown(None, None, type(error).__name__) from error
        return message.sid

    async def send_text(self, recipient: str, body: str, reply_to: str | None = None) -> str:
        return await self._create(to=self._address(recipient), body=body)

    async def send_template(self, recipient: str, name: str, language: str,
                            params: list[dict] | dict | None = None) -> str:
        # On Twilio an approved template is a Content SID; its variables are a JSON object.
        variables = json.dumps(params) if params else None
        return await self._create(to=self._address(recipient), content_sid=name,
                                  **({"content_variables": variables} if variables else {}))

    async def mark_read_and_typing(self, inbound_message_id: str) -> None:
        raise NotImplementedError("Twilio's Messages API has no read receipt or typing indicator")


# --- Pacing -----------------------------------------------------------------------------------

# Token buckets, taken all or none: returns 0 when the send may go (one token taken from each
# bucket), else the milliseconds until every bucket has a token. ARGV: now_ms, then per key
# its refill rate (tokens per ms) and capacity (the burst). The clock has 1 ms resolution, so
# a token 1 ms short counts as there, and the wait is rounded against float noise.
_TAKE_TOKENS = """
local now, wait, tokens = tonumber(ARGV[1]), 0, {}
for i, key in ipairs(KEYS) do
  local rate, cap = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', key, 't', 'ts')
  local ts = tonumber(state[2]) or now
  tokens[i] = math.min(cap, (tonumber(state[1]) or cap) + math.max(0, now - ts) * rate)
  if tokens[i] < 1 - rate then wait = math.max(wait, math.ceil((1 - tokens[i]) / rate - 1e-6)) end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local rate, cap = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('HSET', key, 't', tostring(tokens[i] - 1), 'ts', now)
  redis.call('PEXPIRE', key, math.ceil(cap / rate) + 1000)
end
return 0
"""
Bucket = tuple[str, float, float]  # key, tokens per second, burst


class Pacer:
    """Per-number throughput and per-recipient pair rate. In Redis when given one, so every
    worker process shares the budget; else in this process only."""

    def __init__(self, redis: Any | None = None):
        self.redis = redis
        self._script = redis.register_script(_TAKE_TOKENS) if redis is not None else None
        self._local: dict[str, tuple[float, int]] = {}

    async def take(self, buckets: Sequence[Bucket], now: datetime) -> float:
        """Seconds until a send may go (0: go now, and the tokens are taken)."""
        now_ms = round(now.timestamp() * 1000)
        if self._script is not None:
            args = [now_ms] + [v for _, rate, burst in buckets for v in (rate / 1000, burst)]
            return int(await self._script(keys=[b[0] for b in buckets], args=args)) / 1000
        return self._take_local(buckets, now_ms) / 1000

    def _take_local(self, buckets: Sequence[Bucket], now_ms: int) -> int:
        if len(self._local) > 50_000:  # forget buckets that are full again
            self._local = {k: v for k, v in self._local.items() if now_ms - v[1] < 600_000}
        wait, refilled = 0, []
        for key, rate, burst in buckets:
            tokens, ts = self._local.get(key, (burst, now_ms))
            tokens = min(burst, tokens + max(0, now_ms - ts) * rate / 1000)
            refilled.append((key, tokens, max(ts, now_ms)))
            if tokens < 1 - rate / 1000:  # the clock has 1 ms resolution: allow 1 ms early
                wait = max(wait, math.ceil((1 - tokens) * 1000 / rate - 1e-6))
        if not wait:
            for key, tokens, ts in refilled:
                self._local[key] = (tokens - 1, ts)
        return wait


# --- The worker -------------------------------------------------------------------------------

RETRYABLE_CODES = frozenset({131000, 130429, 131056})
"""Meta: something went wrong, throughput exceeded, pair rate limit hit."""
RECORDED_CODES = frozenset({131047, 131050})
"""Meta: outside the 24-hour window, user stopped marketing messages. Retrying cannot help."""

_CLAIM = ("SELECT id, provider, recipient, kind, body, template, reply_to_message_id, attempts"
          " FROM outbox WHERE status = 'pending' AND next_attempt_at <= %s AND provider = ANY(%s)"
          " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED")
_OPEN = ("SELECT id, provider, recipient, next_attempt_at FROM outbox"
         " WHERE status IN ('pending', 'sending') AND recipient = ANY(%s) ORDER BY id")


def is_retryable(error: SendError) -> bool:
    status = error.http_status or 0
    return (isinstance(error, SendUnreachable) or status == 429 or status >= 500
            or error.code in RETRYABLE_CODES)


class OutboxWorker:
    def __init__(self, pool: AsyncConnectionPool, senders: Mapping[str, Sender], *,
                 redis: Any | None = None, number_rate: float = 80.0, pair_interval_s: float = 6.0,
                 pair_burst: int = 3, batch_size: int = 100, lease_s: float = 60.0,
                 max_attempts: int = 8, backoff_base_s: float = 1.0, backoff_cap_s: float = 300.0,
                 poll_s: float = 0.2):
        self.pool, self.senders, self.pacer = pool, dict(senders), Pacer(redis)
        self.number_rate, self.pair_rate, self.pair_burst = number_rate, 1 / pair_interval_s, pair_burst
        self.batch_size, self.lease, self.max_attempts = batch_size, timedelta(seconds=lease_s), max_attempts
        self.backoff_base_s, self.backoff_cap_s, self.poll_s = backoff_base_s, backoff_cap_s, poll_s

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                busy = await self.run_once() >= self.batch_size
            except Exception:  # a database blip must not end the worker; rows stay pending
                log.exception("outbox iteration failed")
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_s)

    async def run_once(self, now: datetime | None = None) -> int:
        """Send what is due now, in order per recipient; returns how many rows were tried."""
        now = now or datetime.now(UTC)
        async with self.pool.connection() as conn:
            lost = await conn.execute(
                "UPDATE outbox SET status = 'unknown', updated_at = %s, last_error = %s"
                " WHERE status = 'sending' AND updated_at < %s RETURNING id",
                (now, json.dumps({"message": "worker lost while sending; not resent"}), now - self.lease))
            if lost.rowcount:
                log.warning("%d outbox row(s) were in flight when a worker died; marked unknown",
                            lost.rowcount)
            async with conn.transaction():
                due = await (await conn.execute(
                    _CLAIM, (now, list(self.senders), self.batch_size))).fetchall()
                if not due:
                    return 0
                queue = await (await conn.execute(_OPEN, (list({r["recipient"] for r in due}),))).fetchall()
                claimed, held = self._plan(due, queue, now)
                for row_id, until in held:
                    await conn.execute("UPDATE outbox SET next_attempt_at = %s WHERE id = %s", (until, row_id))
                await conn.execute(
                    "UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = %s"
                    " WHERE id = ANY(%s)", (now, [r["id"] for rows in claimed for r in rows]))
        return sum(await asyncio.gather(*(self._send_in_order(rows, now) for rows in claimed)))

    def _buckets(self, row: Mapping[str, Any]) -> list[Bucket]:
        sender = self.senders[row["provider"]]
        number = f"{row['provider']}:{getattr(sender, 'phone_number_id', None) or getattr(sender, 'from_number', '')}"
        buckets = [(f"switchboard:pace:number:{number}", self.number_rate, self.number_rate)]
        if row["kind"] != "read_receipt":  # marking read is no message to the customer
            buckets.append((f"switchboard:pace:pair:{number}:{row['recipient']}", self.pair_rate,
                            self.pair_burst))
        return buckets

    @staticmethod
    def _plan(due: list[dict], queue: list[dict], now: datetime
              ) -> tuple[list[list[dict]], list[tuple[int, datetime]]]:
        """The due rows to send now, grouped per recipient in id order, and those held back.

        A row never overtakes an earlier open row to the same recipient (in backoff, in flight,
        or locked by another worker), so split replies and consecutive replies keep their order."""
        due_by_id = {r["id"]: r for r in due}
        per_recipient: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for row in queue:
            per_recipient[(row["provider"], row["recipient"])].append(row)
        claimed, held = [], []
        for rows in per_recipient.values():
            going, hold_until = [], None
            for open_row in rows:
                row = due_by_id.get(open_row["id"])
                if row is None and hold_until is None:
                    hold_until = max(open_row["next_attempt_at"], now + timedelta(seconds=1))
                elif row is not None and hold_until is not None:
                    held.append((row["id"], hold_until))
                elif row is not None:
                    going.append(row)
            if going:
                claimed.append(going)
        return claimed, held

    async def _send_in_order(self, rows: list[dict], now: datetime) -> int:
        """Send one recipient's rows one after another; returns how many were tried. Pacing
        is taken per send, so rows that end up not sent spend none of the budget."""
        for i, row in enumerate(rows):
            if wait := await self.pacer.take(self._buckets(row), now):
                await self._release(rows[i:], now + timedelta(seconds=wait))
                return i
            retry_at = await self._send(row, now)
            if retry_at is not None:  # the rest wait behind it, unattempted
                await self._release(rows[i + 1:], retry_at)
                return i + 1
        return len(rows)

    async def _release(self, rows: list[dict], until: datetime) -> None:
        if rows:
            async with self.pool.connection() as conn:
                await conn.execute(
                    "UPDATE outbox SET status = 'pending', attempts = attempts - 1,"
                    " next_attempt_at = %s WHERE id = ANY(%s) AND status = 'sending'",
                    (until, [r["id"] for r in rows]))

    async def _send(self, row: dict, now: datetime) -> datetime | None:
        """Send one row and record the outcome; returns when to retry, if it should be."""
        sender, recipient = self.senders[row["provider"]], row["recipient"]
        try:
            if row["kind"] == "text":
                message_id = await sender.send_text(recipient, row["body"], row["reply_to_message_id"])
            elif row["kind"] == "template":
                template = row["template"]
                message_id = await sender.send_template(
                    recipient, template["name"], template.get("language", "en"), template.get("params"))
            else:
                await sender.mark_read_and_typing(row["reply_to_message_id"])
                message_id = None
        except NotImplementedError:
            await self._record(row["id"], "skipped", now)
        except SendError as error:
            return await self._failed(row, error, now)
        except Exception as error:  # a bug or an unforeseen transport error: it may have gone
            log.exception("outbox row %s: unexpected error while sending", row["id"])
            await self._record(row["id"], "unknown", now, error={"message": repr(error)})
        else:
            await self._record(row["id"], "sent", now, provider_message_id=message_id)
        return None

    async def _failed(self, row: dict, error: SendError, now: datetime) -> datetime | None:
        attempts = row["attempts"] + 1
        if isinstance(error, SendOutcomeUnknown):
            status = "unknown"
        elif row["kind"] == "read_receipt" or not is_retryable(error):
            status = "failed"  # a read receipt is cosmetic: it must not hold the reply back
        elif attempts >= self.max_attempts:
            status = "dead"
        else:
            delay = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempts - 1))
            delay *= random.uniform(0.5, 1.0)
            if error.code == 131056:  # Meta's pair limit: no sooner than the pair interval
                delay = max(delay, 1 / self.pair_rate)
            retry_at = now + timedelta(seconds=delay)
            await self._record(row["id"], "pending", now, error=error.as_record(), retry_at=retry_at)
            log.info("outbox row %s: %s, retry %d at %s", row["id"], error, attempts, retry_at)
            return retry_at
        log_level = logging.INFO if error.code in RECORDED_CODES else logging.WARNING
        log.log(log_level, "outbox row %s %s: %s", row["id"], status, error)
        await self._record(row["id"], status, now, error=error.as_record())
        return None

    async def _record(self, row_id: int, status: str, now: datetime, *, error: dict | None = None,
                      provider_message_id: str | None = None, retry_at: datetime | None = None) -> None:
        # 'unknown' too: a send that outlived the lease may still report its real outcome.
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE outbox SET status = %s, updated_at = %s, last_error = COALESCE(%s, last_error),"
                " provider_message_id = COALESCE(%s, provider_message_id),"
                " sent_at = CASE WHEN %s = 'sent' THEN %s ELSE sent_at END,"
                " next_attempt_at = COALESCE(%s, next_attempt_at)"
                " WHERE id = %s AND status IN ('sending', 'unknown')",
                (status, now, json.dumps(error) if error else None, provider_message_id, status,
                 now, retry_at, row_id))
