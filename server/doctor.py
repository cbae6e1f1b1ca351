"""Every dependency the settings name, checked with a real call (the `switchboard doctor`
command is server/cli/doctor.py).

PostgreSQL (connect, SELECT 1, version), Redis (PING), Chroma (heartbeat, collection size), each
configured model endpoint, the Cloud API token and number, the Twilio credentials. One row each:
ok, or what is wrong and which setting to look at; never a secret. `serve` and `worker` reuse
the store checks to refuse a wrong URL in one line, and the model checks to warn at start.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graph.base.settings import Settings
from server import provider_checks as checks
from server.demo_mode import channels, demo_mode

if TYPE_CHECKING:  # for types only: the stores' modules are imported where they are used
    from server.database import DatabaseUnreachable
    from server.redis_client import RedisUnreachable

log = logging.getLogger("switchboard.config")
OK, FAILED, SKIPPED = "ok", "FAILED", "-"


@dataclass(frozen=True)
class Row:
    """One line of `switchboard doctor`: a dependency, where it is, and how it answered."""

    dependency: str
    where: str
    status: str
    detail: str


def _where(url: str | None, default: str) -> str:
    from server.startup_checks import host_and_port

    return host_and_port(url, default)


# --- The stores --------------------------------------------------------------------------------

async def _store_row(name: str, setting: str | None, embedded: str, url_of: Callable[[], str],
                     check: Callable[[str], Awaitable[str]],
                     unreachable: type[DatabaseUnreachable | RedisUnreachable],
                     where: Callable[[str], str], ok: str, start_hint: str = "") -> Row:
    """One store: configured (`setting` is set) or embedded under DATA_DIR/`embedded`."""
    configured = setting is not None
    place = setting if setting is not None else f"embedded ({embedded})"
    try:
        url = await asyncio.to_thread(url_of)
        version = await check(url)
        return Row(name, where(url) if configured else place, OK, ok.format(version=version))
    except unreachable as error:
        # Configured: where the URL points (none when it does not parse); embedded: DATA_DIR.
        return Row(name, error.place if configured else place, FAILED,
                   error.why + (f" (check {setting})" if configured and error.place else ""))
    except Exception as error:  # noqa: BLE001 - the embedded server could not start
        return Row(name, place, FAILED, f"could not start it ({type(error).__name__}){start_hint}")


async def postgres_row(settings: Settings) -> Row:
    """Whether PostgreSQL answers (configured or embedded)."""
    from server.database import DatabaseUnreachable, check_database, database_url, where

    return await _store_row(
        "PostgreSQL", "DATABASE_URL" if settings.database_url is not None else None,
        str(settings.data_dir / "postgres"), lambda: database_url(settings), check_database,
        DatabaseUnreachable, where, "PostgreSQL {version}", "; see the postgres/log file in DATA_DIR")


async def redis_row(settings: Settings) -> Row:
    """Whether Redis answers (configured or embedded)."""
    from server.redis_client import RedisUnreachable, check_redis, redis_url, where

    return await _store_row(
        "Redis", "REDIS_URL" if settings.redis_url is not None else None,
        str(settings.data_dir / "redis"), lambda: redis_url(settings), check_redis,
        RedisUnreachable, where, "PING ok, Redis {version}")


async def chroma_row(settings: Settings, http) -> Row:
    """Whether the knowledge base (Chroma server or embedded directory) is reachable and filled."""
    name = settings.knowledge_collection
    if settings.chroma_url:
        verdict = await checks.bounded(checks.check_chroma_server(http, settings.chroma_url, name),
                                       "CHROMA_URL")
        return Row("Chroma", _where(settings.chroma_url, "CHROMA_URL"),
                   OK if verdict.ok else FAILED, verdict.detail)

    def count() -> str:
        from knowledge.base import chroma_client

        client = chroma_client(settings)
        if name not in {c.name for c in client.list_collections()}:
            return f"no collection '{name}' yet (the first start fills it)"
        return f"'{name}' holds {client.get_collection(name).count()} chunks"

    place = f"embedded ({settings.data_dir / 'chroma'})"
    try:
        return Row("Chroma", place, OK, await asyncio.to_thread(count))
    except Exception as error:  # noqa: BLE001 - a damaged or locked store
        return Row("Chroma", place, FAILED, f"could not open it ({type(error).__name__})")


async def store_rows(settings: Settings, *, configured: bool = True, embedded: bool = True,
                     embedded_chroma: bool = True) -> list[Row]:
    """The stores' rows: those set by a URL (`configured`), the embedded ones (`embedded`;
    PostgreSQL and Redis are started for it), embedded Chroma (`embedded_chroma`)."""
    wanted = {"postgres": settings.database_url is not None, "redis": settings.redis_url is not None,
              "chroma": bool(settings.chroma_url)}
    wanted = {name: configured if by_url else (embedded and (name != "chroma" or embedded_chroma))
              for name, by_url in wanted.items()}
    async with checks.http_client() as http:
        rows = [row for name, row in (("postgres", postgres_row), ("redis", redis_row),
                                      ("chroma", lambda s: chroma_row(s, http))) if wanted[name]]
        return list(await asyncio.gather(*(row(settings) for row in rows)))


# --- Models and channels -----------------------------------------------------------------------

Check = Callable[..., Awaitable[checks.Verdict]]


def _model_checks(settings: Settings) -> list[tuple[str, object, str, Check]]:
    """(dependency, its settings, their environment prefix, the call that checks it)."""
    return [("Router model", settings.router, "ROUTER", checks.check_chat_model),
            ("Agent model", settings.agent, "AGENT", checks.check_chat_model),
            ("Embeddings", settings.embeddings, "EMBEDDINGS", checks.check_embeddings),
            ("Transcription", settings.transcribe, "TRANSCRIBE", checks.check_transcription)]


def _offline(dependency: str) -> str:
    unset = {"Embeddings": "offline WordLlama, nothing to check",
             "Transcription": "not configured (voice notes are not transcribed)"}
    return unset.get(dependency, "offline brain, nothing to check")


async def model_rows(settings: Settings, http) -> list[Row]:
    """Whether each configured model endpoint answers; offline stand-ins otherwise."""
    async def one(dependency, config, prefix, check) -> Row:
        if not getattr(config, "model", None):
            return Row(dependency, "", SKIPPED, _offline(dependency))
        where = f"{config.model} at {_where(config.base_url, 'api.openai.com')}"
        verdict = await checks.bounded(check(http, config, prefix), f"{prefix}__BASE_URL")
        return Row(dependency, where, OK if verdict.ok else FAILED, verdict.detail)

    return list(await asyncio.gather(*(one(*found) for found in _model_checks(settings))))


async def channel_rows(settings: Settings, http) -> list[Row]:
    """Whether each configured WhatsApp channel's credentials work."""
    configured = channels(settings)
    rows = []
    if configured.meta and (settings.meta.graph_url or "").strip():
        verdict = await checks.bounded(checks.check_meta(http, settings), "META__GRAPH_URL")
        rows.append(Row("WhatsApp Cloud API", _where(settings.meta.graph_url, ""),
                        OK if verdict.ok else FAILED, verdict.detail))
    elif configured.meta:
        rows.append(Row("WhatsApp Cloud API", "", FAILED, "META__GRAPH_URL is unset"))
    else:
        shown = "simulator (demo mode), nothing to check" if demo_mode(settings).on else "not configured"
        rows.append(Row("WhatsApp Cloud API", "", SKIPPED, shown))
    if configured.twilio:
        verdict = await checks.bounded(checks.check_twilio(http, settings), "TWILIO__API_BASE_URL")
        rows.append(Row("Twilio", _where(settings.twilio.api_base_url, ""),
                        OK if verdict.ok else FAILED, verdict.detail))
    else:
        rows.append(Row("Twilio", "", SKIPPED, "not configured"))
    return rows


async def all_rows(settings: Settings) -> list[Row]:
    """Every row of the doctor's report, checked at once."""
    async with checks.http_client() as http:
        stores, models, channel = await asyncio.gather(
            store_rows(settings), model_rows(settings, http), channel_rows(settings, http))
    return stores + models + channel


def warn_about_models(settings: Settings) -> threading.Thread:
    """Check the configured model endpoints once, beside the start (it never waits for them):
    one warning line per endpoint that fails, so a mistyped URL does not hide behind "ready"."""
    async def rows() -> list[Row]:
        async with checks.http_client() as http:
            return await model_rows(settings, http)

    def run() -> None:
        try:
            found = asyncio.run(rows())
        except Exception as error:  # noqa: BLE001 - a warning's failure must not end the server
            log.warning("model check could not run (%s)", type(error).__name__)
            return
        for row in found:
            if row.status == FAILED:
                stand_in = ("; the offline brain answers in its place" if row.dependency.endswith("model")
                            else "")
                log.warning("model check: %s %s: %s%s (switchboard doctor)", row.dependency.lower(),
                            row.where, row.detail, stand_in)

    thread = threading.Thread(target=run, name="model-check", daemon=True)
    thread.start()
    return thread
