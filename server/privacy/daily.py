"""The worker's daily prune: every worker process runs this loop, and a Redis "last run" key
with a lock lets one of them prune once a day across all processes.

Each pass (hourly): if the last successful prune is less than a day old, nothing; else take
the lock (SET NX with an expiry, so a runner that dies frees it), prune, record the time,
release. A failed prune records nothing: the next pass, on any worker, tries again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

import redis.asyncio as aioredis

from server.availability import Availability
from server.loop import run_until_stopped
from server.privacy.prune import Pruning, prune

log = logging.getLogger(__name__)

LAST_RUN = "switchboard:prune:last"
LOCK = "switchboard:prune:lock"
EVERY_S = 24 * 3600.0
CHECK_EVERY_S = 3600.0
LOCK_S = 3600
"""How long the lock holds if its runner dies mid-prune."""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class DailyPrune:
    """Prunes at most once per EVERY_S across every process sharing the Redis."""

    def __init__(self, pruning: Pruning, redis: aioredis.Redis):
        self.pruning, self.redis = pruning, redis
        self._release = redis.register_script(_RELEASE)

    async def run_once(self) -> bool:
        """One pass; True when this runner pruned."""
        last = await self.redis.get(LAST_RUN)
        if last is not None and time.time() - float(last) < EVERY_S:
            return False
        token = secrets.token_hex(8)
        if not await self.redis.set(LOCK, token, nx=True, ex=LOCK_S):
            return False  # another process is pruning right now
        try:
            done = await prune(self.pruning)
            await self.redis.set(LAST_RUN, str(time.time()))
        finally:
            await self._release(keys=[LOCK], args=[token])
        log.info("daily prune: %s", ", ".join(f"{p.what.split(':')[0]} {p.count}"
                                               for p in done if p.count) or "nothing to remove")
        return True

    async def run_forever(self, stop: asyncio.Event) -> None:
        async def step() -> float:
            await self.run_once()
            return CHECK_EVERY_S

        availability = Availability(log, "daily prune", min_pause_s=60, max_pause_s=CHECK_EVERY_S)
        await run_until_stopped(step, stop, availability, bug_pause_s=CHECK_EVERY_S)
