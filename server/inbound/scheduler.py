"""Which conversation runs next, and who runs it: the due set, the lease, its fence, its heartbeat.

Redis is shared by every API and worker process; Postgres stays the truth (the inbox), so all
of Redis may be lost and rebuilt from it (`Scheduler.lost_data`, the worker's sweep).

- **Due set** (sorted set): conversations with unanswered messages, scored by when they become
  due. Each new message pushes the due time to now + debounce (never earlier), so a burst is one
  turn.
- **Take** (one Lua call for many conversations): a conversation is taken only if it is *still*
  due at that instant and nobody holds its lease, so a stale list of due conversations can never
  split a burst. Taking moves it from the due set to the running set; messages that arrive
  during the turn add it to the due set again, for the next turn.
- **Lease** (SET NX PX) with a **fencing token** from a Postgres sequence: the token keeps
  growing even if Redis is replaced, and the turn's commit checks it (`take_fence`), so a
  worker that lost its lease commits nothing.
- **Heartbeat**: one call renews every lease a worker holds; a lease it can no longer renew
  is reported lost, and its turn is cancelled. Leases are short, so a dead worker's
  conversations are taken over within about one lease time (`reap` puts them back due).

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

from graph.base.sql import Conn

DUE = "switchboard:due"
RUNNING = "switchboard:running"
LEASE = "switchboard:lease:"
EPOCH = "switchboard:epoch"
"""Set once per Redis dataset: missing means Redis lost its data (or is new)."""

# KEYS: due, running, epoch. ARGV: now, lease_ms, expiry, token, limit, retry_at.
# Returns {epoch_was_missing, member1, score1, member2, score2, ...}.
_TAKE = """
local fresh = redis.call('set', KEYS[3], ARGV[4], 'NX') and 1 or 0
local taken = {fresh}
local limit = tonumber(ARGV[5])
local due = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, limit * 4)
for i = 1, #due, 2 do
  if (#taken - 1) / 2 >= limit then break end
  local member = due[i]
  if redis.call('set', 'switchboard:lease:' .. member, ARGV[4], 'NX', 'PX', ARGV[2]) then
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
# KEYS: running. ARGV: lease_ms, expiry, then member, token pairs. Returns the lost members.
# A lease that expired unnoticed (a long pause) is taken back if nobody else took it.
_RENEW = """
local lost = {}
for i = 3, #ARGV, 2 do
  local key = 'switchboard:lease:' .. ARGV[i]
  local holder = redis.call('get', key)
  if holder == ARGV[i + 1] or not holder then
    redis.call('set', key, ARGV[i + 1], 'PX', ARGV[1])
    redis.call('zadd', KEYS[1], ARGV[2], ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
"""
# KEYS: running, lease. ARGV: member, token.
_FINISH = """
if redis.call('get', KEYS[2]) == ARGV[2] then
  redis.call('del', KEYS[2])
  redis.call('zrem', KEYS[1], ARGV[1])
  return 1
end
return 0
"""
# KEYS: due, running. ARGV: member, due time pairs. Returns how many became due; running
# conversations are left to their worker (or to _REAP, if it died).
_RESCHEDULE = """
local added = 0
for i = 1, #ARGV, 2 do
  if not redis.call('zscore', KEYS[2], ARGV[i]) then
    added = added + redis.call('zadd', KEYS[1], 'GT', ARGV[i + 1], ARGV[i])
  end
end
return added
"""
# KEYS: running, due. ARGV: now. Conversations whose worker stopped renewing become due now.
_REAP = """
local expired = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 500)
for _, member in ipairs(expired) do
  if redis.call('exists', 'switchboard:lease:' .. member) == 0 then
    redis.call('zrem', KEYS[1], member)
    redis.call('zadd', KEYS[2], 'LT', ARGV[1], member)
  end
end
return #expired
"""


@dataclass(frozen=True)
class Lease:
    """A worker's hold on one conversation, with the fencing token its commit must present."""

    conversation_key: str
    token: str
    fence: int
    due_at: float
    """The due time the turn was taken at."""


@dataclass(frozen=True)
class Taken:
    """The leases one take got."""

    leases: list[Lease]
    lost_data: bool
    """True when Redis came up empty (restarted without its data): Postgres must be swept."""


class Scheduler:
    """Redis's due set and leases: when a conversation's turn runs, and that one worker runs it."""

    def __init__(self, redis: aioredis.Redis, lease_s: float, *, retry_leased_s: float = 0.25):
        self.redis, self.lease_ms = redis, int(lease_s * 1000)
        self.retry_leased_s = retry_leased_s
        self._take = redis.register_script(_TAKE)
        self._renew = redis.register_script(_RENEW)
        self._finish = redis.register_script(_FINISH)
        self._reap = redis.register_script(_REAP)
        self._reschedule = redis.register_script(_RESCHEDULE)

    @property
    def heartbeat_s(self) -> float:
        """How often a holder renews: three chances before the lease runs out."""
        return self.lease_ms / 3000

    async def mark_due(self, conversation_key: str, at: float) -> None:
        """Due at `at` unless already due later (GT keeps the latest message's debounce)."""
        await self.mark_due_many([conversation_key], at)

    async def mark_due_many(self, conversation_keys: Iterable[str], at: float) -> None:
        await self.redis.zadd(DUE, dict.fromkeys(conversation_keys, at), gt=True)  # GT still adds new members

    async def due(self, now: float, limit: int = 20) -> list[tuple[str, float]]:
        due = await self.redis.zrangebyscore(DUE, "-inf", now, start=0, num=limit, withscores=True)
        # redis-py types every reply shape at once; with scores and decode_responses it is this.
        return cast(list[tuple[str, float]], due)

    async def take(self, fences: Callable[[int], Awaitable[list[int]]], limit: int,
                   now: float | None = None) -> Taken:
        """Lease up to `limit` conversations that are due now, each with a fresh fence from
        `fences` (e.g. `next_fences` on a Postgres connection)."""
        now = time.time() if now is None else now
        token = uuid.uuid4().hex
        reply = await self._take(keys=[DUE, RUNNING, EPOCH], args=[
            now, self.lease_ms, now + self.lease_ms / 1000, token, limit, now + self.retry_leased_s])
        pairs = list(zip(reply[1::2], reply[2::2], strict=True))
        try:
            issued = await fences(len(pairs)) if pairs else []
        except BaseException:  # Postgres failed us: hand the conversations straight back
            for key, score in pairs:
                await self.finish(Lease(key, token, 0, float(score)))
            await self.mark_due_many([key for key, _ in pairs], now)
            raise
        leases = [Lease(key, token, fence, float(score))
                  for (key, score), fence in zip(pairs, issued, strict=True)]
        return Taken(leases, lost_data=bool(reply[0]))

    async def renew(self, leases: Iterable[Lease]) -> set[str]:
        """Renew every lease given; returns the conversations whose lease another worker holds."""
        args: list[str | float] = [self.lease_ms, time.time() + self.lease_ms / 1000]
        for lease in leases:
            args += [lease.conversation_key, lease.token]
        if len(args) == 2:
            return set()
        return set(await self._renew(keys=[RUNNING], args=args))

    async def finish(self, lease: Lease) -> bool:
        """Release the lease; newer messages, if any, are already due for the next turn."""
        return bool(await self._finish(keys=[RUNNING, LEASE + lease.conversation_key],
                                       args=[lease.conversation_key, lease.token]))

    async def reschedule(self, due_at: dict[str, float]) -> int:
        """Make conversations due (at the time given, or later if already due later) unless a
        worker is running them; returns how many were not due before."""
        if not due_at:
            return 0
        args = [v for key, at in due_at.items() for v in (key, at)]
        return int(await self._reschedule(keys=[DUE, RUNNING], args=args))

    async def reap(self, now: float | None = None) -> int:
        """Make conversations of dead workers (lease gone, no renewal) due again."""
        return int(await self._reap(keys=[RUNNING, DUE], args=[time.time() if now is None else now]))


async def next_fences(conn: Conn, n: int) -> list[int]:
    """Fencing tokens larger than every one issued before, in any process."""
    rows = await (await conn.execute(
        "SELECT nextval('turn_fence_seq') AS fence FROM generate_series(1, %s)", (n,))).fetchall()
    return [row["fence"] for row in rows]


async def take_fence(conn: Conn, conversation_key: str, fence: int) -> bool:
    """Record this worker's fence at commit; False if a newer worker has already committed."""
    cursor = await conn.execute(
        "INSERT INTO conversation_fences AS f (conversation_key, fence) VALUES (%s, %s)"
        " ON CONFLICT (conversation_key) DO UPDATE SET fence = excluded.fence"
        " WHERE f.fence <= excluded.fence", (conversation_key, fence))
    return cursor.rowcount == 1
