"""Live desk updates: each desk event is published on a Redis channel, which every process's
console stream (server/console/live.py) listens to. Best effort: with Redis down the pages still
poll, and the outage is logged once (server/availability.py)."""

from __future__ import annotations

import json
import logging
from typing import Any

import redis.asyncio as aioredis

from server.availability import OUTAGES, Availability

log = logging.getLogger(__name__)
DESK_CHANNEL = "switchboard:desk"
"""Redis pub/sub channel of desk events; the console's live updates listen to it."""


class LivePublisher:
    """Publishes desk events ({"ref": ..., "kind": ...}) to DESK_CHANNEL; pass its `publish`
    to `Desk(publish=...)`."""

    def __init__(self, redis: aioredis.Redis, channel: str = DESK_CHANNEL):
        self.redis, self.channel = redis, channel
        self.availability = Availability(log, "console live updates")

    async def publish(self, event: dict[str, Any]) -> None:
        """Publish one event; never raises for an outage (logged once per outage)."""
        try:
            await self.redis.publish(self.channel, json.dumps(event))
        except OUTAGES as error:
            self.availability.failed(error)
        else:
            self.availability.ok()
