"""Customers' files: queued with their message at intake (jobs), fetched and checked within
seconds by a background fetcher (fetch, sources, checks), kept in a local directory or an S3
bucket (store), voice notes transcribed (transcribe), shown to agents through short-lived
signed console links (links; the route is server/console/media.py)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from graph.base.settings import Settings
from graph.base.sql import Pool
from server.database import setup_lock
from server.inbound.scheduler import Scheduler
from server.media.fetch import MediaFetcher
from server.media.links import MediaLinks, open_links
from server.media.sources import MetaSource, Source, TwilioSource
from server.media.store import MediaStore, open_store
from server.media.transcribe import Transcriber, open_transcriber

DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


@dataclass
class Media:
    """The media parts of one process: store, signed links and fetcher."""

    store: MediaStore
    links: MediaLinks
    fetcher: MediaFetcher
    http: httpx.AsyncClient
    transcriber: Transcriber | None

    async def aclose(self) -> None:
        await self.http.aclose()
        if self.transcriber is not None:
            await self.transcriber.aclose()


async def open_media(settings: Settings, pool: Pool, scheduler: Scheduler | None,
                     graph_url: str) -> Media:
    """The media parts of one process: store, link key, fetcher (not yet running)."""
    async with setup_lock(pool), pool.connection() as conn:
        links = await open_links(conn, settings.media)
    http = httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT, max_redirects=5)
    twilio = settings.twilio
    sources: dict[str, Source] = {
        "meta": MetaSource(http, graph_url, settings.meta.api_version,
                           settings.meta.access_token.get_secret_value()),
        "twilio": TwilioSource(http, twilio.api_base_url, twilio.account_sid,
                               twilio.auth_token.get_secret_value() if twilio.auth_token else None)}
    store, transcriber = open_store(settings), open_transcriber(settings.transcribe)
    fetcher = MediaFetcher(pool, store, sources, settings.media, transcriber=transcriber,
                           scheduler=scheduler)
    return Media(store, links, fetcher, http, transcriber)
