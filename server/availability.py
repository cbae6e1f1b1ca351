"""Dependency outages as state changes: one log line when Redis or Postgres goes away, one
when it is back, and a growing pause in between, instead of a traceback per loop."""

from __future__ import annotations

import logging

import psycopg
import redis.exceptions
from psycopg_pool import PoolTimeout

OUTAGES: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError, psycopg.OperationalError, PoolTimeout, OSError)
"""Errors that mean "a service is unreachable", as opposed to a bug."""


def service_of(error: BaseException) -> str:
    """Which service an outage error is about."""
    return "Redis" if isinstance(error, redis.exceptions.RedisError) else "Postgres"


class Availability:
    """Tracks whether a loop's dependencies answer. `failed` logs only the first failure of
    an outage (the error's type and message, no traceback) and returns how long to pause;
    `ok` logs once that the outage is over."""

    def __init__(self, log: logging.Logger, what: str, *, min_pause_s: float = 0.25,
                 max_pause_s: float = 5.0):
        self.log, self.what = log, what
        self.min_pause_s, self.max_pause_s = min_pause_s, max_pause_s
        self.down: str | None = None
        """The unreachable service while an outage lasts, else None."""
        self._pause_s = 0.0

    def failed(self, error: BaseException) -> float:
        service = service_of(error)
        if self.down != service:
            self.log.error("%s paused: %s unavailable (%s: %s); retrying quietly", self.what,
                           service, type(error).__name__, str(error).splitlines()[0][:200] if str(error) else "")
            self.down = service
        self._pause_s = min(self.max_pause_s, max(self.min_pause_s, self._pause_s * 2))
        return self._pause_s

    def ok(self) -> bool:
        """Record a success; True when it ended an outage."""
        self._pause_s = 0.0
        if self.down is None:
            return False
        self.log.warning("%s resumed: %s is back", self.what, self.down)
        self.down = None
        return True
