"""A circuit breaker for one model: after repeated failures it stops calling it for a while.

Closed, every call goes through. After `failures` consecutive failures it opens: calls are
refused at once (the offline brain answers them) and the calls still in flight are abandoned,
so nobody waits out a model that is known to hang. A call still unanswered after `slow_s`
counts as a failure then and there (it goes on), so a model that hangs is found out by its
first few calls within seconds, rather than when every turn's deadline has run out. After
`cool_off_s` one trial call is let through (half-open): success closes the breaker, failure
opens it again. Listeners (`listen`) hear each change as it happens (the server exports it as a
metric); a cooled-off breaker counts as open until its trial call starts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
BreakerState = Literal["closed", "open", "half_open"]
Listener = Callable[[str, BreakerState], None]
"""Told (breaker name, new state) on every change."""


class BreakerOpen(Exception):
    """The breaker refused the call, or abandoned it in flight when it opened."""


class CircuitBreaker:
    """One per model and process; every call to that model goes through `run`."""

    def __init__(self, name: str, failures: int, cool_off_s: float, slow_s: float | None = None):
        self.name, self.failures, self.cool_off_s, self.slow_s = name, failures, cool_off_s, slow_s
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self._in_flight: set[asyncio.Task] = set()
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        """Call `listener(name, state)` on every change of state, and now with the current one."""
        self._listeners.append(listener)
        listener(self.name, self.state)

    def _changed(self, state: BreakerState) -> None:
        for listener in self._listeners:
            try:
                listener(self.name, state)
            except Exception:  # an observer's bug must not fail the model call
                log.exception("%s model breaker: a listener failed", self.name)

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        cooled = time.monotonic() - self._opened_at >= self.cool_off_s
        return "half_open" if self._trial_running or cooled else "open"

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """Await `call()` if the breaker admits it, recording how it went.

        Raises BreakerOpen when refused or abandoned, else whatever the call raised.
        """
        trial = self._admit()
        task = asyncio.ensure_future(call())
        self._in_flight.add(task)
        counted = False  # as slow, already
        try:
            await asyncio.wait({task}, timeout=self.slow_s)  # returns early if `_open` cancels it
            if not task.done():
                counted = True
                self._failed(trial)
                await asyncio.wait({task})
        finally:
            self._in_flight.discard(task)
            if trial:
                self._trial_running = False
            if not task.done():  # this turn itself was cancelled: so is its call, unjudged
                task.cancel()
        if task.cancelled():
            raise BreakerOpen(f"{self.name} model abandoned: its breaker opened")
        if (error := task.exception()) is not None:
            if not counted:
                self._failed(trial)
            raise error
        self._succeeded(trial)
        return task.result()

    def _admit(self) -> bool:
        """Whether the call is the half-open trial; raises BreakerOpen if it may not run."""
        state = self.state
        if state == "closed":
            return False
        if state == "open" or self._trial_running:
            raise BreakerOpen(f"{self.name} model breaker is open")
        self._trial_running = True
        self._changed("half_open")
        return True

    def _failed(self, trial: bool) -> None:
        if self._opened_at is not None and not trial:
            return  # failed just as the breaker opened for others' failures: open already
        self._consecutive += 1
        if trial or self._consecutive >= self.failures:
            self._open(trial)

    def _succeeded(self, trial: bool) -> None:
        if self._opened_at is None:
            self._consecutive = 0
        elif trial:
            self._opened_at, self._consecutive = None, 0
            log.info("%s model breaker closed: a trial call succeeded", self.name)
            self._changed("closed")

    def _open(self, trial: bool) -> None:
        self._opened_at = time.monotonic()
        count = self._consecutive
        why = "its trial call failed" if trial else f"{count} failure{'s' * (count > 1)} in a row"
        log.warning("%s model breaker open (%s): the offline brain answers for %g s",
                    self.name, why, self.cool_off_s)
        self._changed("open")
        for task in self._in_flight:  # abandon them now rather than at their own timeout
            task.cancel()
