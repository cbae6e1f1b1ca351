"""Which conversation runs next, and who runs it: Redis, shared by every API and worker process.

- A sorted set holds conversations that have unanswered messages, scored by when they become
  due. Each new message pushes its conversation's due time to now + debounce (never earlier),
  so a burst of messages becomes one turn.
- A lease (SET NX PX, renewed while the turn runs) gives one worker a conversation at a time.
  Its fencing token comes from a Postgres sequence (so it keeps growing even if Redis is
  replaced) and the database checks it at commit, so a worker that lost its lease cannot
  commit. A dead worker's lease expires and the conversation is picked up again.
- A finished turn removes the conversation only if no message moved its due time meanwhile;
  otherwise the newer messages form the next turn.

We use redis-py's primitives and three tiny Lua scripts rather than arq or RQ: their job-id
de-duplication can neither push a queued job later (a sliding debounce) nor queue a
conversation again while its own job runs, and those two are the semantics needed here.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

DUE = "switchboard:due"
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_FINISH = ("local s = redis.call('zscore', KEYS[1], ARGV[1])"
           " if s and tonumber(s) <= tonumber(ARGV[2]) then return redis.call('zrem', KEYS[1], ARGV[1]) end return 0")


@dataclass(frozen=True)
class Lease:
    conversation_key: str
    token: str
    fence: int
    due_at: float
    """The due time the turn was taken at; a later one means new messages arrived."""


class Scheduler:
    def __init__(self, redis: aioredis.Redis, lease_s: float):
        self.redis, self.lease_ms = redis, int(lease_s * 1000)

    async def mark_due(self, conversation_key: str, at: float) -> None:
        """Due at `at` unless already due later (GT keeps the latest message's debounce)."""
        await self.mark_due_many([conversation_key], at)

    async def mark_due_many(self, conversation_keys: list[str], at: float) -> None:
        await self.redis.zadd(DUE, dict.fromkeys(conversation_keys, at), gt=True)  # GT still adds new members

    async def due(self, now: float, limit: int = 20) -> list[tuple[str, float]]:
        return await self.redis.zrangebyscore(DUE, "-inf", now, start=0, num=limit, withscores=True)

    async def next_due_at(self) -> float | None:
        first = await self.redis.zrange(DUE, 0, 0, withscores=True)
        return first[0][1] if first else None

    async def acquire(self, conversation_key: str, due_at: float,
                      next_fence: Callable[[], Awaitable[int]]) -> Lease | None:
        token = uuid.uuid4().hex
        if not await self.redis.set(f"switchboard:lease:{conversation_key}", token, nx=True,
                                    px=self.lease_ms):
            return None
        try:
            return Lease(conversation_key, token, await next_fence(), due_at)
        except BaseException:
            await self.redis.eval(_RELEASE, 1, f"switchboard:lease:{conversation_key}", token)
            raise

    async def renew(self, lease: Lease) -> bool:
        return bool(await self.redis.eval(_RENEW, 1, f"switchboard:lease:{lease.conversation_key}",
                                          lease.token, self.lease_ms))

    async def finish(self, lease: Lease) -> bool:
        """Drop the conversation from the due set unless newer messages arrived; release the lease.
        True when it is done (nothing newer is waiting)."""
        done = await self.redis.eval(_FINISH, 1, DUE, lease.conversation_key, lease.due_at)
        await self.release(lease)
        return bool(done)

    async def release(self, lease: Lease) -> None:
        await self.redis.eval(_RELEASE, 1, f"switchboard:lease:{lease.conversation_key}", lease.token)
