"""The one loop every background worker runs: a step, a pause, until told to stop.

The turn worker, the outbox sender, the media fetcher and the SLA watcher each pass their own
step. A failure gets one clear log line, not a traceback per loop: an outage of Redis or
Postgres is logged once when it starts and once when it ends (`Availability`), and a bug logs
its traceback once, then a one-line reminder at most every `BUG_REMINDER_S` while it repeats.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence

from server.availability import OUTAGES, Availability

Step = Callable[[], Awaitable[float]]
"""One pass of a worker's loop; returns how long to pause before the next (0: go on at once)."""
BUG_REMINDER_S = 60.0
"""How often a bug that keeps failing every pass is logged again, as one line."""


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


class _Bugs:
    """Logs a failing step's traceback once per bug (the same error type raised at the same
    line, in a row: its message may carry ids that change), then a line now and then while it
    repeats, and one when the step works again."""

    def __init__(self, availability: Availability):
        self.log, self.what = availability.log, availability.what
        self.current: tuple[type, str, int | None] | None = None
        self.repeats, self._reminded_at = 0, 0.0

    def failed(self, error: Exception) -> None:
        where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
        bug = (type(error), where.filename, where.lineno) if where else (type(error), "", None)
        if bug != self.current:
            self.current, self.repeats, self._reminded_at = bug, 0, time.monotonic()
            self.log.exception("%s iteration failed", self.what)
            return
        self.repeats += 1
        if time.monotonic() - self._reminded_at >= BUG_REMINDER_S:
            self._reminded_at = time.monotonic()
            self.log.error("%s iteration still failing (%d more times): %s: %s", self.what,
                           self.repeats, type(error).__name__, str(error).splitlines()[0][:200]
                           if str(error) else "")

    def ok(self) -> None:
        if self.current is not None:
            self.log.warning("%s iteration works again", self.what)
            self.current, self.repeats = None, 0


async def run_until_stopped(step: Step, stop: asyncio.Event, availability: Availability, *,
                            bug_pause_s: float, wake_on: Sequence[asyncio.Event] = (),
                            resumed: Callable[[], None] | None = None) -> None:
    """Run `step` until `stop` is set, pausing as long as it asks between passes.

    An outage (`OUTAGES`) pauses as `availability` says, and is logged by it; any other error
    is a bug: logged (see `_Bugs`), then a pause of `bug_pause_s`, and the loop goes on. Setting
    one of `wake_on` ends a pause early (they are cleared before each step, so one set during
    the step counts too). `resumed` is called when a step succeeds after an outage.
    """
    bugs = _Bugs(availability)
    while not stop.is_set():
        for event in wake_on:
            event.clear()
        try:
            pause = await step()
        except OUTAGES as error:
            pause = availability.failed(error)
        except Exception as error:  # a bug: logged once, then the loop goes on
            bugs.failed(error)
            pause = bug_pause_s
        else:
            bugs.ok()
            if availability.ok() and resumed is not None:
                resumed()
        await idle(pause, stop, *wake_on)
