"""Pacing: token buckets shared in Redis, or kept in this process."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from server.availability import OUTAGES, Availability

log = logging.getLogger("server.outbox")

# Token buckets for several sends in one call, each send's buckets taken all or none, in
# order (a later send sees what an earlier one took). Returns per send 0 when it may go (one
# token taken from each of its buckets), else the milliseconds until every one has a token.
# KEYS: every send's bucket keys, one send after another. ARGV: now_ms, then per send the
# number of its buckets and, for each, its refill rate (tokens per ms) and capacity (the
# burst). The clock has 1 ms resolution, so a token 1 ms short counts as there, and the wait
# is rounded against float noise.
_TAKE_TOKENS = """
local now, waits, k, a = tonumber(ARGV[1]), {}, 0, 2
while a <= #ARGV do
  local n, wait, tokens, rates, caps = tonumber(ARGV[a]), 0, {}, {}, {}
  a = a + 1
  for i = 1, n do
    rates[i], caps[i] = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    a = a + 2
    local state = redis.call('HMGET', KEYS[k + i], 't', 'ts')
    local ts = tonumber(state[2]) or now
    tokens[i] = math.min(caps[i], (tonumber(state[1]) or caps[i]) + math.max(0, now - ts) * rates[i])
    if tokens[i] < 1 - rates[i] then
      wait = math.max(wait, math.ceil((1 - tokens[i]) / rates[i] - 1e-6))
    end
  end
  if wait == 0 then
    for i = 1, n do
      redis.call('HSET', KEYS[k + i], 't', tostring(tokens[i] - 1), 'ts', now)
      redis.call('PEXPIRE', KEYS[k + i], math.ceil(caps[i] / rates[i]) + 1000)
    end
  end
  waits[#waits + 1] = wait
  k = k + n
end
return waits
"""
Bucket = tuple[str, float, float]  # key, tokens per second, burst


class Pacer:
    """Per-number throughput and per-recipient pair rate. In Redis when given one, so every
    worker process shares the budget; else, or while Redis does not answer, in this process
    only (sending goes on: each process keeps to the limits by itself meanwhile)."""

    def __init__(self, redis: Any | None = None):
        self.redis = redis
        self._script = redis.register_script(_TAKE_TOKENS) if redis is not None else None
        self._local: dict[str, tuple[float, int]] = {}
        self.redis_state = Availability(log, "shared pacing in Redis (pacing in this process meanwhile)")
        self._redis_retry_at = 0.0

    async def take(self, buckets: Sequence[Bucket], now: datetime) -> float:
        """Seconds until a send may go (0: go now, and the tokens are taken)."""
        return (await self.take_many([buckets], now))[0]

    async def take_many(self, sends: Sequence[Sequence[Bucket]], now: datetime) -> list[float]:
        """`take` for several sends in one round trip, in order."""
        now_ms = round(now.timestamp() * 1000)
        if self._script is not None and time.monotonic() >= self._redis_retry_at and sends:
            args: list[Any] = [now_ms]
            for buckets in sends:
                args += [len(buckets), *(v for _, rate, burst in buckets for v in (rate / 1000, burst))]
            try:
                waits = await self._script(keys=[b[0] for bs in sends for b in bs], args=args)
            except OUTAGES as error:  # not again until the pause is over: no wait per send
                self._redis_retry_at = time.monotonic() + self.redis_state.failed(error)
            else:
                self.redis_state.ok()
                return [int(wait) / 1000 for wait in waits]
        return [self._take_local(buckets, now_ms) / 1000 for buckets in sends]

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
