"""The outbox worker: sends due rows one at a time per recipient, paced, and records outcomes.

Every call is claimed first, in a committed transaction: the row becomes 'sending' with one
more attempt, a claim deadline (`claimed_until`: the send timeout and a second) and the time it
is sent again should its outcome stay unknown (`next_attempt_at`: the status wait). Only a
recipient's first open row can be claimed, and only while none of its rows is in flight, so
replies keep their order and a customer never has two of our messages in flight.

A claim past its deadline (the call timed out, or its sender died) is 'unconfirmed': it no
longer holds later rows back, and a status webhook (found by the provider's message id, or by
the outbox id the send carried) can still settle it. If none has by `next_attempt_at` it is sent
again, up to `resends` times; after that it is 'unknown' and the desk shows it to agents, as it
does a message the provider refused. Read receipts are cosmetic: an unknown outcome ends them
quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import SpanKind

from graph.base.settings import OutboxSettings
from graph.base.sql import Conn, Pool
from server import audit_events, tracing
from server.availability import OUTAGES, Availability
from server.loop import run_until_stopped
from server.metrics import OUTBOX_BACKLOG, SEND_FAILURES, SENDS, error_code, label
from server.outbox import opt_out, problems
from server.outbox.pacing import Bucket, Pacer
from server.outbox.queue import ROW_COLUMNS as _COLUMNS
from server.outbox.senders import (
    RECORDED_CODES,
    NotSendable,
    Sender,
    SendError,
    SendOutcomeUnknown,
    is_retryable,
)

if TYPE_CHECKING:
    from server.desk.desk import Desk

log = logging.getLogger("server.outbox")  # one logger for the whole package, as before the split

# Rows of o's recipient that hold o back: one in flight, or an earlier one still to be sent
# (pending, even in backoff, or unconfirmed and due to be sent again).
_HELD_BACK = """EXISTS (SELECT 1 FROM outbox e WHERE e.provider = o.provider
    AND e.recipient = o.recipient AND e.id <> o.id AND (e.status = 'sending' OR (e.id < o.id
    AND (e.status = 'pending' OR (e.status = 'unconfirmed' AND e.next_attempt_at <= %(now)s
                                  AND e.resends < %(resends)s)))))"""
_SENDABLE = f"""o.status IN ('pending', 'unconfirmed') AND o.next_attempt_at <= %(now)s
    AND (o.status = 'pending' OR o.resends < %(resends)s) AND {opt_out.SENDABLE}"""
# Whether later rows wait behind o: only then is its recipient looked at again after the send.
_MORE = """EXISTS (SELECT 1 FROM outbox l WHERE l.provider = o.provider AND l.recipient = o.recipient
    AND l.id > o.id AND l.status IN ('pending', 'unconfirmed')) AS more"""
_HEADS = f"""SELECT {_COLUMNS} FROM outbox o WHERE {_SENDABLE} AND o.provider = ANY(%(providers)s)
    AND (%(recipient)s::text IS NULL OR (o.provider, o.recipient) = (%(provider)s, %(recipient)s))
    AND NOT {_HELD_BACK} ORDER BY o.id LIMIT %(limit)s"""
# Claims for one recipient take turns on this lock, so each one's check of what is in flight
# sees what the one before it committed.
_LOCK_RECIPIENTS = """SELECT c.id FROM unnest(%s::bigint[], %s::text[]) AS c(id, recipient)
    WHERE pg_try_advisory_xact_lock(hashtext('switchboard.outbox'), hashtext(c.recipient))"""
_CLAIM = f"""UPDATE outbox o SET status = 'sending', attempts = attempts + 1,
    resends = resends + (status = 'unconfirmed')::int, claimed_until = %(claimed_until)s,
    next_attempt_at = %(resend_at)s, updated_at = %(now)s
    WHERE o.id IN (SELECT id FROM outbox WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE SKIP LOCKED)
    AND {_SENDABLE} AND NOT {_HELD_BACK} RETURNING {_COLUMNS}, {_MORE}"""
# A claim without claimed_until was made by a worker of an older version (a 60 s lease, and no
# resend time): the status wait counts from its claim, as it does for a claim of ours.
# Sweeps skip the rows another worker's sweep has: each row is moved, and told, once.
_EXPIRE = """UPDATE outbox SET updated_at = %(now)s, last_error = %(error)s, claimed_until = NULL,
    status = CASE WHEN kind = 'read_receipt' THEN 'unknown' ELSE 'unconfirmed' END,
    next_attempt_at = GREATEST(next_attempt_at, updated_at + make_interval(secs => %(wait)s))
    WHERE id IN (SELECT id FROM outbox WHERE status = 'sending'
                 AND COALESCE(claimed_until, updated_at + interval '60 seconds') <= %(now)s
                 FOR UPDATE SKIP LOCKED) RETURNING id"""
_GIVE_UP = f"""UPDATE outbox SET status = 'unknown', updated_at = %(now)s
    WHERE id IN (SELECT id FROM outbox WHERE status = 'unconfirmed' AND next_attempt_at <= %(now)s
                 AND resends >= %(resends)s FOR UPDATE SKIP LOCKED) RETURNING {_COLUMNS}"""
# Claims and holds never wait for a row another transaction has locked (SKIP LOCKED): two
# processes claiming and holding one recipient's rows in different orders would deadlock.
# A row skipped by a hold is one being claimed or settled right then.
_HOLD = """UPDATE outbox SET next_attempt_at = GREATEST(next_attempt_at, %s) WHERE id IN (
    SELECT id FROM outbox WHERE provider = %s AND recipient = %s AND id >= %s
    AND status IN ('pending', 'unconfirmed') ORDER BY id FOR UPDATE SKIP LOCKED)"""

Clock = Callable[[], datetime]
SETTLE_EVERY_S = 1.0
"""How often overdue claims are looked for: they are due seconds apart, and passes that send
come many times a second under load."""


PACE_PAIR = "switchboard:pace:pair:"
"""Redis keys of the pacing bucket per business number and recipient: PACE_PAIR +
"<provider>:<number id>:<recipient>" (erasure clears a customer's: server/privacy/forget.py)."""


class OutboxWorker:
    """Sends the outbox: one message in flight per customer, paced, retried by error code,
    settled by status."""

    def __init__(self, pool: Pool, senders: Mapping[str, Sender], *,
                 settings: OutboxSettings | None = None, desk: Desk | None = None,
                 redis: Any | None = None, number_rate: float | None = None, pair_interval_s: float = 6.0,
                 pair_burst: int = 3, batch_size: int = 100, max_attempts: int = 8,
                 backoff_base_s: float = 1.0, backoff_cap_s: float = 300.0, poll_s: float = 0.2):
        self.pool, self.senders, self.pacer, self.redis = pool, dict(senders), Pacer(redis), redis
        self.settings, self.desk = settings or OutboxSettings(), desk
        self.number_rate = number_rate or self.settings.number_rate
        self.pair_rate, self.pair_burst = 1 / pair_interval_s, pair_burst
        self.batch_size, self.max_attempts = batch_size, max_attempts
        self.backoff_base_s, self.backoff_cap_s, self.poll_s = backoff_base_s, backoff_cap_s, poll_s
        self.availability = Availability(log, "outbox sender")
        self._woken = asyncio.Event()
        self._settled_at = -SETTLE_EVERY_S
        self._unrecorded: list[tuple[dict, str, datetime, dict[str, Any]]] = []
        """Outcomes Postgres could not take; written before anything else is sent."""

    # --- The loop ---------------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Send until `stop`: at once when woken, else every `poll_s`; rows wait in Postgres
        through an outage (server/loop.py logs it once)."""
        async def step() -> float:
            settle = time.monotonic() - self._settled_at >= SETTLE_EVERY_S
            return 0.0 if await self.run_once(settle=settle) >= self.batch_size else self.poll_s

        await run_until_stopped(step, stop, self.availability, bug_pause_s=self.poll_s,
                                wake_on=[self._woken])

    def wake(self) -> None:
        """New rows were committed in this process: look now rather than at the next poll."""
        self._woken.set()

    async def run_once(self, now: datetime | None = None, *, settle: bool = True) -> int:
        """Send what is due at `now`, one row at a time per recipient and recipients side by
        side; returns how many rows were tried. Pacing counts at `now`; claim times move on
        from it with the clock. `settle` also looks for overdue claims first (the loop does so
        once a second, not on every pass)."""
        now = now or datetime.now(UTC)
        started = time.monotonic()

        def clock() -> datetime:
            return now + timedelta(seconds=time.monotonic() - started)

        await self._write_unrecorded()
        async with self.pool.connection() as conn:
            if settle:
                await self._settle_overdue(conn, now)
                self._settled_at = time.monotonic()
                OUTBOX_BACKLOG.set(await _backlog(conn))
            heads = await self._heads(conn, now, self.batch_size)
        claimed = await self._pace_and_claim(heads, now, clock)
        return sum(await asyncio.gather(*(self._send_in_turn(row, now, clock) for row in claimed)))

    async def _send_in_turn(self, row: dict, now: datetime, clock: Clock) -> int:
        """Send a claimed row, then its recipient's next due rows, one at a time, each claimed
        before its call; returns how many were tried."""
        tried = 0
        while True:
            tried += 1
            if not await self._send(row, clock):
                return tried  # it waits for a retry, and the recipient's later rows with it
            if not row.get("more", True):
                return tried  # nothing behind it (a row queued meanwhile goes on the next pass)
            async with self.pool.connection() as conn:
                heads = await self._heads(conn, now, 1, of=row)
            claimed = await self._pace_and_claim(heads, now, clock)
            if not claimed:
                return tried
            row = claimed[0]

    # --- Claims -----------------------------------------------------------------------------

    def _query_args(self, now: datetime) -> dict[str, Any]:
        return {"now": now, "resends": self.settings.resends}

    async def _heads(self, conn: Conn, now: datetime, limit: int,
                     of: Mapping[str, Any] | None = None) -> list[dict]:
        """Each recipient's first open row, when it is due and nothing holds it back (only
        the recipient of `of`, when given). At most one per recipient: it holds back the rest."""
        return await (await conn.execute(_HEADS, {
            **self._query_args(now), "providers": list(self.senders), "limit": limit,
            "provider": of and of["provider"], "recipient": of and of["recipient"]})).fetchall()

    async def _pace_and_claim(self, heads: list[dict], now: datetime, clock: Clock) -> list[dict]:
        """Claim the heads the pacer lets go now, recording the attempt before any call; the
        others, with the rows behind them, wait until it lets them."""
        waits = await self.pacer.take_many([self._buckets(h) for h in heads], now)
        going = [h for h, wait in zip(heads, waits, strict=True) if not wait]
        async with self.pool.connection() as conn:
            for head, wait in zip(heads, waits, strict=True):
                if wait:  # each on its own: a claim transaction locks only rows of its recipients
                    await self._hold(conn, head, now + timedelta(seconds=wait))
        if not going:
            return []
        async with self.pool.connection() as conn, conn.transaction():
            locked = await (await conn.execute(_LOCK_RECIPIENTS, (
                [h["id"] for h in going], [f"{h['provider']}:{h['recipient']}" for h in going]))).fetchall()
            at = clock()
            return await (await conn.execute(_CLAIM, {
                **self._query_args(at), "ids": [r["id"] for r in locked],
                "claimed_until": at + timedelta(seconds=self.settings.send_timeout_s + 1),
                "resend_at": at + timedelta(seconds=self.settings.status_wait_s)})).fetchall()

    @staticmethod
    async def _hold(conn: Conn, row: Mapping[str, Any], until: datetime) -> None:
        """Keep the row and its recipient's later rows back until `until`."""
        await conn.execute(_HOLD, (until, row["provider"], row["recipient"], row["id"]))

    def _buckets(self, row: Mapping[str, Any]) -> list[Bucket]:
        sender = self.senders[row["provider"]]
        number = f"{row['provider']}:{getattr(sender, 'phone_number_id', None) or getattr(sender, 'from_number', '')}"
        if row["kind"] == "read_receipt":  # marking read is no message: neither limit counts it
            return []
        return [(f"switchboard:pace:number:{number}", self.number_rate, self.number_rate),
                (f"{PACE_PAIR}{number}:{row['recipient']}", self.pair_rate, self.pair_burst)]

    # --- Unknown outcomes -------------------------------------------------------------------

    async def _settle_overdue(self, conn: Conn, now: datetime) -> None:
        """Claims past their deadline become unconfirmed (read receipts: unknown, quietly);
        unconfirmed rows that no status settled and that may not be sent again become unknown
        and go to the desk, as do rows of a provider with no sender (failed) and rows a status
        webhook failed."""
        async with conn.transaction():
            expired = await (await conn.execute(_EXPIRE, {
                **self._query_args(now), "wait": self.settings.status_wait_s, "error": json.dumps(
                    {"message": "no outcome by the claim deadline: the sender died or hung"})})).fetchall()
            if expired:
                log.warning("%d outbox row(s) outlived their claim (e.g. %s); waiting for a status"
                            " before sending again", len(expired), expired[0]["id"])
            for row in await (await conn.execute(_GIVE_UP, self._query_args(now))).fetchall():
                log.warning("outbox row %s: delivery unknown after %d send(s); the desk is told",
                            row["id"], row["resends"] + 1)
                await audit_events.record_send(conn, row, "unknown")
                await self._tell_desk(conn, row, "unknown", f"no delivery status after"
                                      f" {row['resends'] + 1} send(s): the customer may not have it")
            if refused := await opt_out.refuse(conn, now):  # queued as a STOP committed
                log.info("%d outbox row(s) not sent: their customers opted out", len(refused))
            for row in await problems.take_unsendable(conn, list(self.senders), now):
                log.warning("outbox row %s %s: no sender for %s", row["id"], row["status"],
                            row["provider"])
                await audit_events.record_send(conn, row, row["status"])
                await self._tell_desk(conn, row, row["status"], problems.unsendable_reason(row))
            for row in await problems.take_failed_by_status(conn):
                await self._tell_desk(conn, row, "failed", problems.status_reason(row))

    async def _tell_desk(self, conn: Conn, row: Mapping[str, Any], outcome: str,
                         why: str) -> None:
        if row["kind"] == "read_receipt":
            return
        if self.desk is None:
            log.warning("outbox row %s: delivery %s (%s); no desk to tell", row["id"], outcome, why)
            return
        template = row["template"] or {}
        await self.desk.delivery_problem(
            conn, key=row["conversation_key"], recipient=row["recipient"],
            provider=row["provider"], outbox_id=row["id"], message_kind=row["kind"],
            outcome=outcome, reason=why, preview=row["body"] or template.get("name"))

    # --- Sending ----------------------------------------------------------------------------

    async def _call(self, row: Mapping[str, Any]) -> str | None:
        """The provider call, bounded a little past the sender's own timeout (so its finer
        verdict, such as "unreachable", comes first) and well inside the claim deadline."""
        sender, recipient, row_id = self.senders[row["provider"]], row["recipient"], row["id"]
        timeout_s = self.settings.send_timeout_s + 0.5
        try:
            async with asyncio.timeout(timeout_s):
                if row["kind"] == "text" and (row.get("interactive") or {}).get("choices"):
                    return await sender.send_choices(
                        recipient, row["body"], row["interactive"]["choices"],
                        row["reply_to_message_id"], outbox_id=row_id)
                if row["kind"] == "text":
                    return await sender.send_text(recipient, row["body"], row["reply_to_message_id"],
                                                  outbox_id=row_id)
                if row["kind"] == "template":
                    template = row["template"]
                    return await sender.send_template(
                        recipient, template["name"], template.get("language", "en"),
                        template.get("params"), outbox_id=row_id)
                await sender.mark_read_and_typing(row["reply_to_message_id"])
                return None
        except TimeoutError as error:
            raise SendOutcomeUnknown(None, None, f"no answer within {timeout_s:g} s") from error

    async def _send(self, row: dict, clock: Clock) -> bool:
        """Send one claimed row and record the outcome; False when it is to be retried. In a
        `send` span that continues the trace of the turn that queued the reply."""
        key = row["conversation_key"]
        parent = await tracing.recall(self.redis, "reply", key) if key else None
        with tracing.span("send", [key] if key else [], context=parent, kind=SpanKind.CLIENT,
                          attributes={"switchboard.provider": row["provider"],
                                      "switchboard.kind": row["kind"]}):
            return await self._send_row(row, clock)

    async def _send_row(self, row: dict, clock: Clock) -> bool:
        try:
            message_id = await self._call(row)
        except NotImplementedError:
            await self._record(row, "skipped", clock())
        except SendError as error:
            return await self._failed(row, error, clock())
        except Exception as error:  # a bug or an unforeseen transport error: it may have gone
            log.exception("outbox row %s: unexpected error while sending", row["id"])
            _count_failure(row, "unexpected")
            await self._unconfirmed(row, SendOutcomeUnknown(None, None, repr(error)), clock())
        else:
            await self._record(row, "sent", clock(), provider_message_id=message_id)
        return True

    async def _unconfirmed(self, row: dict, error: SendError, now: datetime) -> None:
        """The call may have reached the provider: its statuses will tell, else it is sent again."""
        if row["kind"] == "read_receipt":
            await self._record(row, "unknown", now, error=error.as_record())
            return
        log.warning("outbox row %s: outcome unknown (%s); waiting for a status", row["id"], error)
        await self._record(row, "unconfirmed", now, error=error.as_record())

    async def _failed(self, row: dict, error: SendError, now: datetime) -> bool:
        attempts = row["attempts"]
        _count_failure(row, error_code(error.code, error.http_status, type(error).__name__))
        if isinstance(error, SendOutcomeUnknown):
            await self._unconfirmed(row, error, now)
            return True
        if row["kind"] == "read_receipt" or not is_retryable(error):
            status = "failed"  # a read receipt is cosmetic: it must not hold the reply back
        elif attempts >= self.max_attempts:
            status = "dead"
        else:
            delay = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempts - 1))
            delay *= random.uniform(0.5, 1.0)
            if error.code == 131056:  # Meta's pair limit: no sooner than the pair interval
                delay = max(delay, 1 / self.pair_rate)
            retry_at = now + timedelta(seconds=delay)
            await self._record(row, "pending", now, error=error.as_record(), retry_at=retry_at)
            log.info("outbox row %s: %s, retry %d at %s", row["id"], error, attempts, retry_at)
            return False
        log_level = logging.INFO if error.code in RECORDED_CODES else logging.WARNING
        log.log(log_level, "outbox row %s %s: %s", row["id"], status, error)
        why = (f"not sent: {error}" if isinstance(error, NotSendable) else
               f"the provider refused it: {error}" if status == "failed" else
               f"gave up after {attempts} attempts: {error}")
        await self._record(row, status, now, error=error.as_record(), desk_reason=why)
        return True

    # --- Outcomes ---------------------------------------------------------------------------

    async def _record(self, row: dict, status: str, now: datetime, **outcome: Any) -> None:
        if row["kind"] != "read_receipt":  # messages only: receipts are cosmetic
            SENDS.labels(provider=label(row["provider"]), status=status).inc()
        try:
            await self._write_outcome(row, status, now, **outcome)
        except OUTAGES:
            # Kept, and written first once Postgres is back: forgotten, the row would be sent
            # again after its status wait.
            self._unrecorded.append((row, status, now, outcome))
            raise

    async def _write_unrecorded(self) -> None:
        while self._unrecorded:
            row, status, now, outcome = self._unrecorded[0]
            await self._write_outcome(row, status, now, **outcome)
            self._unrecorded.pop(0)

    async def _write_outcome(self, row: dict, status: str, now: datetime, *,
                             error: dict | None = None, provider_message_id: str | None = None,
                             retry_at: datetime | None = None, desk_reason: str | None = None) -> None:
        # From 'unconfirmed' or 'unknown' too: a call that outlived its claim may still return.
        # Not back to 'unconfirmed' from there, though, nor over what a status has settled.
        previous = ["sending"] if status == "unconfirmed" else ["sending", "unconfirmed", "unknown"]
        audited = row["kind"] != "read_receipt"  # a send's status is audited with the change
        together = retry_at is not None or desk_reason is not None or audited
        async with (self.pool.connection() as conn,
                    conn.transaction() if together else contextlib.nullcontext()):
            cursor = await conn.execute(
                "UPDATE outbox SET status = %s, updated_at = %s, last_error = COALESCE(%s, last_error),"
                " provider_message_id = COALESCE(%s, provider_message_id), claimed_until = NULL,"
                " sent_at = CASE WHEN %s = 'sent' THEN %s ELSE sent_at END,"
                " next_attempt_at = COALESCE(%s, next_attempt_at)"
                " WHERE id = %s AND status = ANY(%s)",
                (status, now, json.dumps(error) if error else None, provider_message_id, status,
                 now, retry_at, row["id"], previous))
            if cursor.rowcount:
                await audit_events.record_send(conn, row, status, error=error)
            if retry_at is not None:
                await self._hold(conn, row, retry_at)
            if desk_reason and cursor.rowcount:
                await self._tell_desk(conn, row, status, desk_reason)


def _count_failure(row: Mapping[str, Any], code: str) -> None:
    """switchboard_send_failures_total, for messages (read receipts are cosmetic)."""
    if row["kind"] != "read_receipt":
        SEND_FAILURES.labels(provider=label(row["provider"]), code=code).inc()


async def _backlog(conn: Conn) -> int:
    """Rows not yet settled (by the partial index outbox_open_by_recipient)."""
    row = await (await conn.execute("SELECT count(*) AS n FROM outbox"
                                    " WHERE status IN ('pending', 'sending', 'unconfirmed')")).fetchone()
    return int(row["n"]) if row else 0
