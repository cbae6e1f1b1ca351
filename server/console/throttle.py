"""Console password guessing: exponential backoff per agent id and per client address, and a
lockout of an id after repeated failures, kept in Postgres so that every process enforces it.

An attempt is charged *before* the password is checked: in one transaction, with both rows
locked, the failure counts go up and the next allowed time is set, so a burst of concurrent
guesses gets one through, not all of them; a right password then gives the charge back. While
an id or an address has to wait, the password is not checked at all, so the right one fails too.
Ids are counted whether or not the account exists, so a lockout tells nothing about which ids
are real; and they are stored hashed, because people type passwords into the id field.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request

from graph.base.settings import ConsoleLoginSettings
from graph.base.sql import Conn, Pool, required
from server.desk import accounts

log = logging.getLogger(__name__)
ADDRESS_MAX = 100


def client_address(request: Request, trusted_proxy_hops: int) -> str:
    """The socket peer; behind n trusted proxies, the n-th X-Forwarded-For entry from the right
    (each proxy appends the address it saw, so entries further left are the client's say-so)."""
    peer = request.client.host if request.client else "unknown"
    if trusted_proxy_hops <= 0:
        return peer[:ADDRESS_MAX]
    forwarded = [part.strip() for header in request.headers.getlist("x-forwarded-for")
                 for part in header.split(",") if part.strip()]
    if len(forwarded) < trusted_proxy_hops:  # it did not come through the proxies
        return peer[:ADDRESS_MAX]
    return forwarded[-trusted_proxy_hops][:ADDRESS_MAX]


def subject(scope: str, value: str) -> str:
    """What the throttle stores of an id or address: a hash, never the value."""
    return hashlib.sha256(f"{scope}:{value}".encode()).hexdigest()


@dataclass(frozen=True)
class Attempt:
    """The throttle's answer for one login attempt."""

    agent_id: str
    address: str
    allowed: bool
    retry_after_s: int = 0
    failures: int = 0
    """The id's failures counting this attempt (it is charged as one until it succeeds)."""
    locks_until: datetime | None = None
    """When the id is locked until if this attempt fails (None: a backoff, not a lockout)."""


class LoginThrottle:
    """Slows down password guessing per account and per address, counted in Postgres."""

    def __init__(self, pool: Pool, settings: ConsoleLoginSettings):
        self.pool, self.settings = pool, settings

    def backoff(self, failures: int) -> timedelta:
        """How long to wait after the n-th failure: base, doubled per failure, capped."""
        seconds = self.settings.backoff_base_s * 2.0 ** min(max(failures - 1, 0), 60)
        return timedelta(seconds=min(seconds, self.settings.backoff_max_s))

    async def charge(self, agent_id: str, address: str) -> Attempt:
        """Count this attempt as a failure unless the id or the address must still wait."""
        account, origin = subject("account", agent_id), subject("address", address)
        async with self.pool.connection() as conn, conn.transaction():
            now = required(await (await conn.execute("SELECT now() AS now")).fetchone())["now"]
            rows = [await self._locked(conn, "account", account, now),
                    await self._locked(conn, "address", origin, now)]
            waits = [r["blocked_until"] for r in rows if r["blocked_until"] and r["blocked_until"] > now]
            if waits:
                wait = math.ceil((max(waits) - now).total_seconds())
                return Attempt(agent_id, address, allowed=False, retry_after_s=max(wait, 1))
            account_failures, address_failures = rows[0]["failures"] + 1, rows[1]["failures"] + 1
            locked = account_failures >= self.settings.lockout_failures
            account_until = now + (timedelta(minutes=self.settings.lockout_minutes) if locked
                                   else self.backoff(account_failures))
            for scope, key, failures, until in (
                    ("account", account, account_failures, account_until),
                    ("address", origin, address_failures, now + self.backoff(address_failures))):
                await conn.execute(
                    "UPDATE console_login_throttle SET failures = %s, last_failure_at = %s,"
                    " blocked_until = %s WHERE scope = %s AND subject = %s",
                    (failures, now, until, scope, key))
        return Attempt(agent_id, address, allowed=True, failures=account_failures,
                       locks_until=account_until if locked else None)

    async def _locked(self, conn: Conn, scope: str, key: str, now: datetime) -> dict:
        """The row, created if new and locked; failures older than forget_after count as none."""
        await conn.execute("INSERT INTO console_login_throttle (scope, subject) VALUES (%s, %s)"
                           " ON CONFLICT DO NOTHING", (scope, key))
        row = await (await conn.execute(
            "SELECT failures, last_failure_at, blocked_until FROM console_login_throttle"
            " WHERE scope = %s AND subject = %s FOR UPDATE", (scope, key))).fetchone()
        row = required(row)  # inserted just above when missing
        forget = now - timedelta(hours=self.settings.forget_after_hours)
        if row["last_failure_at"] is not None and row["last_failure_at"] < forget:
            row = {**row, "failures": 0}
        return row

    async def succeeded(self, attempt: Attempt) -> None:
        """The right password: the id starts afresh; the address gets this attempt back."""
        origin = subject("address", attempt.address)
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("DELETE FROM console_login_throttle WHERE scope = 'account'"
                               " AND subject = %s", (subject("account", attempt.agent_id),))
            await conn.execute("DELETE FROM console_login_throttle WHERE scope = 'address'"
                               " AND subject = %s AND failures <= 1", (origin,))
            await conn.execute("UPDATE console_login_throttle SET failures = failures - 1"
                               " WHERE scope = 'address' AND subject = %s", (origin,))

    async def failed(self, attempt: Attempt) -> None:
        """Record the failure (and a lockout) as events and one log line; never the password,
        and the id only if it is a real account's (a mistyped id may be a password)."""
        async with self.pool.connection() as conn, conn.transaction():
            agent_id = attempt.agent_id if await accounts.exists(conn, attempt.agent_id) else None
            kinds = ["failure"] + (["lockout"] if attempt.locks_until else [])
            for kind in kinds:
                await conn.execute(
                    "INSERT INTO console_login_events (kind, agent_id, address, failures,"
                    " blocked_until) VALUES (%s, %s, %s, %s, %s)",
                    (kind, agent_id, attempt.address, attempt.failures, attempt.locks_until))
            cutoff = timedelta(hours=self.settings.forget_after_hours)
            await conn.execute("DELETE FROM console_login_throttle WHERE last_failure_at < now() - %s"
                               " AND (blocked_until IS NULL OR blocked_until < now())", (cutoff,))
        who = f"agent {agent_id}" if agent_id else "an unknown agent id"
        if attempt.locks_until:
            log.warning("console login failed for %s from %s (failure %d): locked until %s",
                        who, attempt.address, attempt.failures, attempt.locks_until.isoformat())
        else:
            log.warning("console login failed for %s from %s (failure %d)", who, attempt.address,
                        attempt.failures)
