"""When a conversation's turn runs: the due set, and taking due conversations under a lease.

Redis is shared by every API and worker process; Postgres stays the truth (the inbox), so all
of Redis may be lost and rebuilt from it (`Taken.lost_data`, the worker's sweep).

Who owns what: this module owns the due set and `take`; the lease it grants (its keys, fence,
renewal, release, reaping and the heartbeat) is server/inbound/lease.py's. `take` writes the
lease in the same Lua call that takes the conversation off the due set, with the lease module's
key names, and draws the fences from it.

- **Due set** (sorted set): conversations with unanswered messages, scored by when they become
  due. Each new message pushes the due time to now + debounce (never earlier), so a burst is one
  turn.
- **Take** (one Lua call for many conversations): a conversation is taken only if it is *still*
  due at that instant and nobody holds its lease, so a stale list of due conversations can never
  split a burst. Taking moves it from the due set to the running set (`lease.RUNNING`); messages
  that arrive during the turn add it to the due set again, for the next turn.

We use redis-py and a few Lua scripts rather than arq or RQ: their job-id de-duplication can
neither push a queued job later (a sliding debounce) nor queue a conversation again while its
own job runs, and those two are the semantics needed here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis

from server.inbound.lease import LEASE, RUNNING, Lease, Leases

DUE = "switchboard:due"
EPOCH = "switchboard:epoch"
"""Set once per Redis dataset: missing means Redis lost its data (or is new)."""

# KEYS: due, running, epoch. ARGV: now, lease_ms, expiry, token, limit, retry_at, lease prefix.
# Returns {epoch_was_missing, member1, score1, member2, score2, ...}.
_TAKE = """
local fresh = redis.call('set', KEYS[3], ARGV[4], 'NX') and 1 or 0
local taken = {fresh}
local limit = tonumber(ARGV[5])
local due = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, limit * 4)
for i = 1, #due, 2 do
  if (#taken - 1) / 2 >= limit then break end
  local member = due[i]
  if redis.call('set', ARGV[7] .. member, ARGV[4], 'NX', 'PX', ARGV[2]) then
    redis.call('zrem', KEYS[1], member)
    redis.call('zadd', KEYS[2], ARGV[3], member)
    taken[#taken + 1] = member
    taken[#taken + 1] = due[i + 1]
  else
    -- Running elsewhere: look again shortly, without clogging the head of the due set.
    redis.call('zadd', KEYS[1], ARGV[6], member)
  end
end
return taken
"""
# KEYS: due, running. ARGV: member, due time pairs. Returns how many became due; running
# conversations are left to their worker (or to `Leases.reap`, if it died).
_RESCHEDULE = """
local added = 0
for i = 1, #ARGV, 2 do
  if not redis.call('zscore', KEYS[2], ARGV[i]) then
    added = added + redis.call('zadd', KEYS[1], 'GT', ARGV[i + 1], ARGV[i])
  end
end
return added
"""


@dataclass(frozen=True)
class Taken:
    """The leases one take got."""

    leases: list[Lease]
    lost_data: bool
    """True when Redis came up empty (restarted without its data): Postgres must be swept."""


class Scheduler:
    """Redis's due set: when a conversation's turn runs; `take` hands it to one worker under a
    lease (`self.leases`, server/inbound/lease.py)."""

    def __init__(self, redis: aioredis.Redis, lease_s: float, *, retry_leased_s: float = 0.25):
        self.redis, self.retry_leased_s = redis, retry_leased_s
        self.leases = Leases(redis, lease_s, due_key=DUE)
        self._take = redis.register_script(_TAKE)
        self._reschedule = redis.register_script(_RESCHEDULE)

    async def mark_due(self, conversation_key: str, at: float) -> None:
        """Due at `at` unless already due later (GT keeps the latest message's debounce)."""
        await self.mark_due_many([conversation_key], at)

    async def mark_due_many(self, conversation_keys: Iterable[str], at: float) -> None:
        """`mark_due` for many conversations in one ZADD."""
        await self.redis.zadd(DUE, dict.fromkeys(conversation_keys, at), gt=True)  # GT still adds new members

    async def due(self, now: float, limit: int = 20) -> list[tuple[str, float]]:
        """Conversations due at `now`, with their due times (earliest first)."""
        due = await self.redis.zrangebyscore(DUE, "-inf", now, start=0, num=limit, withscores=True)
        # redis-py types every reply shape at once; with scores and decode_responses it is this.
        return cast(list[tuple[str, float]], due)

    async def take(self, fences: Callable[[int], Awaitable[list[int]]], limit: int,
                   now: float | None = None) -> Taken:
        """Lease up to `limit` conversations that are due now, each with a fresh fence from
        `fences` (e.g. `lease.next_fences` on a Postgres connection)."""
        now = time.time() if now is None else now
        token, lease_ms = uuid.uuid4().hex, self.leases.lease_ms
        reply = await self._take(keys=[DUE, RUNNING, EPOCH], args=[
            now, lease_ms, now + lease_ms / 1000, token, limit, now + self.retry_leased_s, LEASE])
        pairs = list(zip(reply[1::2], reply[2::2], strict=True))
        try:
            issued = await fences(len(pairs)) if pairs else []
        except BaseException:  # Postgres failed us: hand the conversations straight back
            for key, score in pairs:
                await self.leases.finish(Lease(key, token, 0, float(score)))
            await self.mark_due_many([key for key, _ in pairs], now)
            raise
        leases = [Lease(key, token, fence, float(score))
                  for (key, score), fence in zip(pairs, issued, strict=True)]
        return Taken(leases, lost_data=bool(reply[0]))

    async def reschedule(self, due_at: dict[str, float]) -> int:
        """Make conversations due (at the time given, or later if already due later) unless a
        worker is running them; returns how many were not due before."""
        if not due_at:
            return 0
        args = [v for key, at in due_at.items() for v in (key, at)]
        return int(await self._reschedule(keys=[DUE, RUNNING], args=args))
