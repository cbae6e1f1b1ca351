"""Downloading a customer's file from the provider that delivered it.

Meta: GET {graph}/{version}/{media_id} with the access token answers {url, mime_type, sha256,
file_size}; the url (valid about 5 minutes, so asked for afresh on every try) is then fetched
with the same token. Twilio: GET MediaUrl0 with the account SID and auth token (Basic), which
answers with a redirect to the file; only URLs on Twilio's API host get the credentials.

Redirects are followed, and httpx drops the Authorization header on a redirect to another
origin, so credentials never reach the host the file happens to live on. Reading stops at the
size limit: a file is never held past it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from server.media import checks
from server.media.jobs import Job

MEDIA_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class Transient(RuntimeError):
    """The provider or the network failed this time; try again later."""


class Permanent(RuntimeError):
    """Trying again will not help (expired or unknown media, refused credentials)."""


@dataclass(frozen=True)
class Download:
    """A downloaded file and the type the provider declared for it."""

    data: bytes
    declared_type: str | None


class Source(Protocol):
    """Where a provider's files are downloaded from."""

    async def download(self, job: Job, max_bytes: int) -> Download: ...


def raise_for(response: httpx.Response, what: str) -> None:
    """Raise Transient or Permanent for a failed download response, by its status."""
    status = response.status_code
    if status in (408, 425, 429) or status >= 500:
        raise Transient(f"{what}: HTTP {status}")
    if status >= 300:
        raise Permanent(f"{what}: HTTP {status}")


async def read_capped(http: httpx.AsyncClient, url: str, job: Job, max_bytes: int,
                      **request) -> Download:
    """GET `url` and read its body, refusing (checks.Refused) past the kind's size limit."""
    try:
        async with http.stream("GET", url, follow_redirects=True, **request) as response:
            raise_for(response, "download")
            declared = response.headers.get("content-length", "")
            if declared.isascii() and declared.isdigit() and len(declared) < 19:
                checks.check_size(job.kind, int(declared), max_bytes)
            limit, body = checks.size_limit(job.kind, max_bytes), bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    checks.check_size(job.kind, len(body), max_bytes)
            content_type = response.headers.get("content-type", "").partition(";")[0].strip()
            return Download(bytes(body), content_type or None)
    except httpx.HTTPError as error:
        raise Transient(f"download failed: {type(error).__name__}") from error


class MetaSource:
    """Downloads files from the WhatsApp Cloud API (by media id, with the access token)."""

    def __init__(self, http: httpx.AsyncClient, graph_url: str, api_version: str,
                 access_token: str):
        self.http, self.graph_url, self.api_version = http, graph_url.rstrip("/"), api_version
        self.auth = {"authorization": f"Bearer {access_token}"}

    async def download(self, job: Job, max_bytes: int) -> Download:
        media_id = job.provider_media_id or ""
        if not MEDIA_ID.fullmatch(media_id):  # it goes into a URL path
            raise Permanent("the webhook carried no usable media id")
        try:
            response = await self.http.get(f"{self.graph_url}/{self.api_version}/{media_id}",
                                           headers=self.auth)
        except httpx.HTTPError as error:
            raise Transient(f"media lookup failed: {type(error).__name__}") from error
        raise_for(response, "media lookup")
        try:
            meta = response.json()
        except ValueError as error:
            raise Transient("media lookup answered something other than JSON") from error
        url = meta.get("url") if isinstance(meta, dict) else None
        if not isinstance(url, str) or urlsplit(url).scheme not in ("https", "http"):
            raise Permanent("media lookup gave no download URL")
        size = meta.get("file_size")
        if isinstance(size, int | str) and str(size).isdigit() and len(str(size)) < 19:
            checks.check_size(job.kind, int(size), max_bytes)
        download = await read_capped(self.http, url, job, max_bytes, headers=self.auth)
        declared = meta.get("mime_type") if isinstance(meta.get("mime_type"), str) else None
        return Download(download.data, declared or download.declared_type)


class TwilioSource:
    """Downloads files from Twilio (by media URL, with the account's credentials)."""

    def __init__(self, http: httpx.AsyncClient, api_base_url: str, account_sid: str | None,
                 auth_token: str | None):
        self.http, self.origin = http, _origin(api_base_url)
        self.auth = (account_sid, auth_token) if account_sid and auth_token else None

    async def download(self, job: Job, max_bytes: int) -> Download:
        url = job.source_url or ""
        if _origin(url) != self.origin:
            # A signed webhook still names the URL: credentials go to Twilio's API host only.
            raise Permanent("the media URL is not on Twilio's API host")
        if self.auth is None:
            raise Permanent("Twilio's account SID and auth token are not configured")
        return await read_capped(self.http, url, job, max_bytes, auth=self.auth)


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        return "", "", None
