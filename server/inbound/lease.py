"""The lease on a conversation: one worker runs its turn, and a worker that lost it commits nothing.

Who owns what: `Scheduler.take` (server/inbound/scheduler.py) grants leases, in the same Lua call
that takes conversations off the due set (so a stale list of due conversations can never split a
burst); it writes this module's keys (`LEASE`, `RUNNING`) and gets its fences here. Everything
about a lease after that lives in this module:

- **Lease** (`SET NX PX` on `LEASE` + conversation, holding the taker's token) with a **fencing
  token** from a Postgres sequence (`next_fences`): the token keeps growing even if Redis is
  replaced, and the turn's commit checks it (`take_fence`; refused: `LostLease`), so a worker
  that lost its lease commits nothing.
- **Running set** (`RUNNING`, sorted by lease expiry): the conversations some worker holds.
- **Heartbeat** (`heartbeat`): one `Leases.renew` call renews every lease a worker holds; a lease
  another worker holds now is reported lost, and its turn is cancelled.
- **Release** (`Leases.finish`) when the turn ends; **reaping** (`Leases.reap`): leases are short,
  so a dead worker's conversations are due again within about one lease time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis

from graph.base.conversation import ConversationId
from graph.base.sql import Conn
from server.availability import OUTAGES

RUNNING = "switchboard:running"
LEASE = "switchboard:lease:"
"""Key prefix of one conversation's lease; its value is the holder's token."""

# KEYS: running. ARGV: lease_ms, expiry, lease prefix, then member, token pairs. Returns the
# lost members. A lease that expired unnoticed (a long pause) is taken back if nobody else took it.
_RENEW = """
local lost = {}
for i = 4, #ARGV, 2 do
  local key = ARGV[3] .. ARGV[i]
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
# KEYS: running, due. ARGV: now, lease prefix. Conversations whose worker stopped renewing
# become due now.
_REAP = """
local expired = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 500)
for _, member in ipairs(expired) do
  if redis.call('exists', ARGV[2] .. member) == 0 then
    redis.call('zrem', KEYS[1], member)
    redis.call('zadd', KEYS[2], 'LT', ARGV[1], member)
  end
end
return #expired
"""


@dataclass(frozen=True)
class Lease:
    """A worker's hold on one conversation, with the fencing token its commit must present."""

    conversation_key: ConversationId
    token: str
    fence: int
    due_at: float
    """The due time the turn was taken at."""


class LostLease(RuntimeError):
    """Another worker took the conversation over; this worker's turn must not commit."""


class Leases:
    """Renews, releases and reaps the leases `Scheduler.take` granted."""

    def __init__(self, redis: aioredis.Redis, lease_s: float, *, due_key: str):
        self.redis, self.lease_ms, self.due_key = redis, int(lease_s * 1000), due_key
        self._renew = redis.register_script(_RENEW)
        self._finish = redis.register_script(_FINISH)
        self._reap = redis.register_script(_REAP)

    @property
    def heartbeat_s(self) -> float:
        """How often a holder renews: three chances before the lease runs out."""
        return self.lease_ms / 3000

    async def renew(self, leases: Iterable[Lease]) -> set[str]:
        """Renew every lease given; returns the conversations whose lease another worker holds."""
        args: list[str | float] = [self.lease_ms, time.time() + self.lease_ms / 1000, LEASE]
        for lease in leases:
            args += [lease.conversation_key, lease.token]
        if len(args) == 3:
            return set()
        return set(await self._renew(keys=[RUNNING], args=args))

    async def finish(self, lease: Lease) -> bool:
        """Release the lease; newer messages, if any, are already due for the next turn."""
        return bool(await self._finish(keys=[RUNNING, LEASE + lease.conversation_key],
                                       args=[lease.conversation_key, lease.token]))

    async def reap(self, now: float | None = None) -> int:
        """Make conversations of dead workers (lease gone, no renewal) due again."""
        return int(await self._reap(keys=[RUNNING, self.due_key],
                                    args=[time.time() if now is None else now, LEASE]))


async def heartbeat(leases: Leases, held: Callable[[], Iterable[Lease]],
                    lost: Callable[[str], None]) -> None:
    """Renew the leases `held()` returns every `heartbeat_s`, until cancelled; call `lost` with
    each conversation whose lease another worker holds now (its turn must stop)."""
    while True:
        await asyncio.sleep(leases.heartbeat_s)
        holding = list(held())
        if not holding:
            continue
        try:
            taken_over = await leases.renew(holding)
        except OUTAGES:  # Redis is away: the turns go on, and the fence guards their commit
            continue
        for key in taken_over:
            lost(key)


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
