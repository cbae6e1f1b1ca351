"""The console's live updates: desk events from Redis pub/sub, as Server-Sent Events, filtered
to what the agent may see. Events name conversations by their opaque ref, never the phone."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator

from fastapi import Request

from server.desk import reads
from server.desk.desk import Agent
from server.desk.live import DESK_CHANNEL
from server.parts import ServerParts

log = logging.getLogger(__name__)
HEARTBEAT_S = 15.0


async def desk_events(request: Request, runtime: ServerParts, agent: Agent) -> AsyncIterator[str]:
    """Server-sent events of desk changes the agent may see, until the client goes away."""
    pubsub = runtime.redis.pubsub()
    await pubsub.subscribe(DESK_CHANNEL)
    try:
        yield "retry: 3000\n: connected\n\n"
        last = time.monotonic()
        while not runtime.stop.is_set():
            if await request.is_disconnected():
                break
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message and message.get("type") == "message":
                try:
                    event = json.loads(message["data"])
                except (TypeError, ValueError):
                    continue
                ref = str(event.get("ref", "")) if isinstance(event, dict) else ""
                if ref and await reads.visible_by_ref(runtime.desk, agent, ref):
                    data = json.dumps({"ref": ref, "kind": event.get("kind")})
                    yield f"event: desk\ndata: {data}\n\n"
                    last = time.monotonic()
            if time.monotonic() - last >= HEARTBEAT_S:
                yield ": heartbeat\n\n"
                last = time.monotonic()
    except asyncio.CancelledError:
        raise
    finally:
        try:
            await pubsub.unsubscribe(DESK_CHANNEL)
            await pubsub.aclose()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            log.debug("closing the desk subscription failed", exc_info=True)
