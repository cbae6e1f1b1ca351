"""Pausing a worker loop: until a timeout, or until something it waits for happens first."""

from __future__ import annotations

import asyncio


async def idle(seconds: float, *events: asyncio.Event) -> None:
    """Sleep `seconds`, or less if any of `events` is set (e.g. stop, or new work)."""
    if seconds <= 0 or any(event.is_set() for event in events):
        return
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
