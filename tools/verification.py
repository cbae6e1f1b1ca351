"""The verification ledger: every identity claim recorded in Postgres, and the counters that
stop anyone guessing their way in.

Failures are counted in one place, here, three ways: per target customer (whichever number or
conversation guessed), per sending number (whoever it claimed to be), and across everyone in a
time window. Each count locks its scope once it reaches its limit within its window; the lock
lasts one window from the failure that tripped it (failures refused meanwhile do not extend it).
A success from a number forgives only that number's earlier failures against the same
customer: their own typos, never anyone else's guesses.

Rows are the audit trail and hold no personal data: the order reference, the owner's customer
id, a keyed hash of the sending number, outcome and reason.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from graph.base import audit
from graph.base.settings import Settings
from graph.base.sql import Conn, Pool, required

# One row's failures count until the same number later proves the same customer.
_COUNTED = """failures > 0 AND at > %(now)s - 2 * %(window)s AND at <= %(now)s
    AND (%(turn)s::text IS NULL OR turn_key IS DISTINCT FROM %(turn)s)
    AND NOT EXISTS (SELECT 1 FROM verification_attempts s WHERE s.outcome = 'verified'
        AND s.number_key = a.number_key AND s.customer_id = a.customer_id AND s.id > a.id
        AND s.at <= %(now)s)"""

# The latest failure at which the window ending there held `limit` failures (the lock starts
# there), and the failures in the window ending now.
_STANDING = f"""SELECT max(at) FILTER (WHERE running >= %(limit)s) AS tripped,
    coalesce(sum(failures) FILTER (WHERE at > %(now)s - %(window)s), 0)::int AS recent
  FROM (SELECT at, failures, sum(failures) OVER (ORDER BY at RANGE BETWEEN %(window)s
               PRECEDING AND CURRENT ROW) AS running
        FROM verification_attempts a WHERE {{scope}} AND {_COUNTED}) counted"""

_SCOPES = {
    "global": "TRUE",
    "number": "a.number_key = %(key)s",
    "customer": "a.customer_id = %(key)s AND a.outcome = 'failed'",  # refusals do not extend it
}

Scope = Literal["global", "number", "customer"]


@dataclass(frozen=True)
class Attempt:
    """One order reference tried with what a message offered (see nodes/claims.py)."""

    order_ref: str
    customer_id: str | None
    """The order's owner; None when no such order exists."""
    matched: bool
    """The one secret offered proves the order; never True for a message of several."""
    failures: int
    """Guesses this stands for: 1, or the secrets a message paired with this order."""
    reason: str
    """match, mismatch, unknown_order, several_refs or several_secrets."""


@dataclass(frozen=True)
class Lock:
    """A lock on identity checks: its scope and when it ends."""

    scope: Scope
    until: datetime


@dataclass(frozen=True)
class Verdict:
    """What the ledger decided about one message's claim."""

    outcome: Literal["verified", "failed", "locked", "paused"]
    customer_id: str | None = None
    """Set only when verified."""
    until: datetime | None = None
    """When the sending number's lock (locked) or the global pause (paused) ends."""
    failures: int = 0
    """The sending number's failures in its window, this claim's included."""
    tries_left: int = 0
    tripped: bool = False
    """This very claim locked the number: time to bring in a human."""


class VerificationLedger:
    """The one authority on identity-check attempts, counters and lockouts."""

    def __init__(self, pool: Pool, settings: Settings):
        self.pool, self.settings = pool, settings
        configured = settings.verification.number_key
        self._key = configured.get_secret_value().encode() if configured else None

    async def number_key(self, phone: str) -> str:
        """The sending number as the ledger stores it: a keyed hash, never the number."""
        if self._key is None:  # no configured key: one random key, kept in Postgres
            async with self.pool.connection() as conn:
                await conn.execute("INSERT INTO verification_key (id, key) VALUES (1, %s)"
                                   " ON CONFLICT (id) DO NOTHING", (secrets.token_hex(32),))
                row = required(await (await conn.execute("SELECT key FROM verification_key")).fetchone())
            self._key = row["key"].encode()
        return hmac.new(self._key, phone.encode(), hashlib.sha256).hexdigest()[:32]

    def _limits(self, scope: Scope) -> tuple[int, timedelta]:
        s, v = self.settings, self.settings.verification
        return {"global": (v.global_failures, timedelta(minutes=v.global_window_minutes)),
                "number": (v.number_failures, timedelta(minutes=v.number_lockout_minutes)),
                "customer": (s.max_verification_attempts, timedelta(minutes=s.lockout_minutes)),
                }[scope]

    async def _standing(self, conn: Conn, scope: Scope, key: str | None,
                        now: datetime, turn: str | None) -> tuple[Lock | None, int]:
        """The scope's lock (if any) and its failures in the window ending now."""
        limit, window = self._limits(scope)
        row = await (await conn.execute(_STANDING.format(scope=_SCOPES[scope]), {
            "key": key, "now": now, "window": window, "limit": limit, "turn": turn})).fetchone()
        row = required(row)
        tripped = row["tripped"]
        lock = Lock(scope, tripped + window) if tripped and tripped + window > now else None
        return lock, row["recent"]

    async def _sender_lock(self, conn: Conn, key: str, now: datetime,
                           turn: str | None) -> Lock | None:
        """The global pause, else the number's lock."""
        paused, _ = await self._standing(conn, "global", None, now, turn)
        return paused or (await self._standing(conn, "number", key, now, turn))[0]

    async def check_locked(self, customer_id: str | None, number: str,
                           now: datetime) -> Lock | None:
        """Whether a claim from `number` (for `customer_id`, when known) would be refused now."""
        key = await self.number_key(number)
        async with self.pool.connection() as conn:
            lock = await self._sender_lock(conn, key, now, None)
            if lock or customer_id is None:
                return lock
            return (await self._standing(conn, "customer", customer_id, now, None))[0]

    async def settle(self, number: str, attempts: list[Attempt], *, now: datetime,
                     turn_key: str | None = None, conversation_ref: str | None = None,
                     turn: int | None = None) -> Verdict:
        """Decide one message's claim and record it. Only a message of exactly one order and
        one secret that match, from an unlocked number, for an unlocked customer, verifies.

        Target customers and the number are locked (in Postgres) while deciding, so parallel
        guesses from many numbers are counted one after another. A turn run again after a
        crash (same turn_key) is decided as before and recorded once, in the audit trail too
        (under `conversation_ref` and `turn`: outcomes and reasons, no order or number)."""
        key = await self.number_key(number)
        targets = sorted({a.customer_id for a in attempts if a.customer_id})
        async with self.pool.connection() as conn, conn.transaction():
            names = [f"number:{key}", *(f"customer:{c}" for c in targets)]
            for lock_id in sorted({_lock_id(name) for name in names}):
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_id,))
            lock = await self._sender_lock(conn, key, now, turn_key)
            locked = set() if lock else {
                c for c in targets if (await self._standing(conn, "customer", c, now, turn_key))[0]}
            rows = [_row(a, lock, locked, alone=len(attempts) == 1) for a in attempts]
            if not (turn_key and await self._recorded(conn, key, turn_key)):
                await conn.cursor().executemany(
                    "INSERT INTO verification_attempts (at, number_key, order_ref, customer_id,"
                    " outcome, reason, failures, turn_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    [(now, key, a.order_ref, a.customer_id, outcome, reason, failures, turn_key)
                     for a, (outcome, reason, failures) in zip(attempts, rows, strict=True)])
                await audit.record(conn, _audit_event(rows, conversation_ref, turn))
            if lock:
                return Verdict("paused" if lock.scope == "global" else "locked", until=lock.until)
            after, recent = await self._standing(conn, "number", key, now, None)
        limit, _ = self._limits("number")
        if len(rows) == 1 and rows[0][0] == "verified":
            return Verdict("verified", customer_id=attempts[0].customer_id)
        if after:
            return Verdict("locked", until=after.until, failures=recent, tripped=True)
        return Verdict("failed", failures=recent, tries_left=max(0, limit - recent))

    async def _recorded(self, conn: Conn, key: str, turn_key: str) -> bool:
        row = await (await conn.execute(
            "SELECT 1 FROM verification_attempts WHERE turn_key = %s AND number_key = %s LIMIT 1",
            (turn_key, key))).fetchone()
        return row is not None


def _audit_event(rows: list[tuple[str, str, int]], conversation_ref: str | None,
                 turn: int | None) -> audit.AuditEvent:
    """One claim as the audit trail keeps it: the overall outcome, each attempt's outcome and
    reason, and the failures it counted."""
    outcomes = [outcome for outcome, _, _ in rows]
    overall = "verified" if outcomes == ["verified"] else (
        "refused" if "refused" in outcomes else "failed")
    return audit.AuditEvent(
        kind=audit.AuditKind.VERIFICATION, actor="customer", conversation_ref=conversation_ref,
        turn=turn, reason=overall,
        payload={"method": "order_claim", "attempts": [
            {"outcome": outcome, "reason": reason, "failures": failures}
            for outcome, reason, failures in rows]})


def _lock_id(name: str) -> int:
    """A 64-bit advisory lock id; taken in ascending order, so two settles never deadlock."""
    digest = hashlib.sha256(f"switchboard.verify.{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _row(attempt: Attempt, lock: Lock | None, locked: set[str], *,
         alone: bool) -> tuple[str, str, int]:
    """Outcome, reason and counted failures of one attempt; `alone`: the message's only one."""
    if lock:  # nothing was tried: refused before any comparison
        return "refused", "paused" if lock.scope == "global" else "number_locked", 0
    if attempt.customer_id in locked:  # counts for the number, as a wrong guess would
        return "refused", "customer_locked", attempt.failures
    if alone and attempt.matched and attempt.failures == 1:
        return "verified", attempt.reason, 0
    return "failed", attempt.reason, max(1, attempt.failures)
