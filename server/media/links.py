"""Short-lived console links to customers' files: /console/media/{id}?exp=...&sig=...

    sig = HMAC-SHA256(key, "{media id}.{expiry}.{agent id}")

A link works only until its expiry, only for the agent it was made for (the route also asks
for that agent's console session), and cannot be made or altered without the key. The key is
MEDIA__LINK_KEY, or a random one made once and kept in Postgres so every process shares it.
Expiries are rounded up to the minute, so a page reloaded within it shows the same URLs and the
browser's cache serves them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time

from graph.base.settings import MediaSettings
from graph.base.sql import Conn, required

PATH = "/console/media/{id}"


class MediaLinks:
    """Signed, expiring links to customers' files, so a link cannot be guessed or reused forever."""

    def __init__(self, key: bytes, ttl_s: int):
        self.key, self.ttl_s = key, ttl_s

    def url(self, media_id: int, agent_id: str, now: float | None = None) -> str:
        expires = math.ceil(((now or time.time()) + self.ttl_s) / 60) * 60
        return (PATH.format(id=media_id)
                + f"?exp={expires}&sig={self._sign(media_id, expires, agent_id)}")

    def valid(self, media_id: int, agent_id: str, exp: str, sig: str,
              now: float | None = None) -> bool:
        """Whether the link was made for this agent by us and has not expired."""
        if not (exp.isascii() and exp.isdigit() and len(exp) <= 12):
            return False
        expires = int(exp)
        now = now or time.time()
        if expires < now or expires > now + self.ttl_s + 60:
            return False
        return hmac.compare_digest(self._sign(media_id, expires, agent_id).encode(),
                                   sig.encode("utf-8", "replace"))

    def _sign(self, media_id: int, expires: int, agent_id: str) -> str:
        message = f"{media_id}.{expires}.{agent_id}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()


async def open_links(conn: Conn, config: MediaSettings) -> MediaLinks:
    """The links of this deployment: the configured key, else the one kept in Postgres (the
    first process to start makes it). Needs the media schema (server/media/jobs.py)."""
    if config.link_key is not None:
        return MediaLinks(config.link_key.get_secret_value().encode(), config.link_ttl_s)
    await conn.execute("INSERT INTO media_link_key (secret) VALUES (%s) ON CONFLICT (id) DO NOTHING",
                       (secrets.token_bytes(32),))
    row = required(await (await conn.execute("SELECT secret FROM media_link_key")).fetchone())
    return MediaLinks(bytes(row["secret"]), config.link_ttl_s)
