"""The outbox worker: sends due rows in order per recipient, paced, and records outcomes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg_pool import AsyncConnectionPool

from server.outbox.pacing import Bucket, Pacer
from server.outbox.senders import (
    RECORDED_CODES,
    Sender,
    SendError,
    SendOutcomeUnknown,
    is_retryable,
)

log = logging.getLogger("server.outbox")  # one logger for the whole package, as before the split

_CLAIM = ("SELECT id, provider, recipient, kind, body, template, reply_to_message_id, attempts"
          " FROM outbox WHERE status = 'pending' AND next_attempt_at <= %s AND provider = ANY(%s)"
          " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED")
_OPEN = ("SELECT id, provider, recipient, next_attempt_at FROM outbox"
         " WHERE status IN ('pending', 'sending') AND recipient = ANY(%s) ORDER BY id")


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
