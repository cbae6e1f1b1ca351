"""Bounds on one model call: its own timeout, what is left of the turn's model time, and its
model's circuit breaker. A call that breaks a bound, or fails, raises `ModelFailed` with the
reason a fallback is recorded under; `call_model` then lets the offline brain answer."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable

from graph.breaker import BreakerOpen, CircuitBreaker

log = logging.getLogger(__name__)


class OutOfTime(Exception):
    """The model had no time left (`asked` False), or ran past the time it was given."""

    def __init__(self, reason: str, asked: bool = True):
        super().__init__(reason)
        self.reason, self.asked = reason, asked


class ModelFailed(Exception):
    """The model gave no answer; `reason` is what the fallback is recorded as: "deadline",
    "timeout", "breaker_open", or the class name of the model's own error."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


async def ask_within(model: Runnable[LanguageModelInput, AIMessage], messages: list,
                     timeout_s: float, breaker: CircuitBreaker | None,
                     time_left: Callable[[], float] | None) -> AIMessage:
    """The model's answer within `timeout_s` or the turn's time left, whichever is less,
    through its breaker. Past either bound the in-flight request is cancelled."""
    left = time_left() if time_left else math.inf
    if left <= 0:
        raise OutOfTime("deadline", asked=False)
    seconds, reason = (left, "deadline") if left < timeout_s else (timeout_s, "timeout")

    async def call() -> AIMessage:
        try:
            async with asyncio.timeout(seconds) as within:
                return await model.ainvoke(messages)
        except TimeoutError:
            if within.expired():
                raise OutOfTime(reason) from None
            raise  # the model's own TimeoutError: reported by its name

    return await (breaker.run(call) if breaker else call())


async def ask_guarded(make_model: Callable[[], Runnable[LanguageModelInput, AIMessage]],
                      messages: list, timeout_s: float, breaker: CircuitBreaker | None,
                      time_left: Callable[[], float] | None) -> AIMessage:
    """`ask_within` for a model that has a fallback: any failure, even in making the model
    (its tool binding), is raised as `ModelFailed` with its reason, and logged unless it is
    one of many in one outage (see `fallback_reason`)."""
    try:
        return await ask_within(make_model(), messages, timeout_s, breaker, time_left)
    except Exception as error:  # noqa: BLE001 - any provider failure means: fall back
        reason, worth_logging = fallback_reason(error)
        if worth_logging and not (breaker and breaker.state != "closed"):  # its opening was logged
            log.warning("model failed (%s); offline brain takes over", reason)
        raise ModelFailed(reason) from error


def fallback_reason(error: Exception) -> tuple[str, bool]:
    """What a fallback is recorded as ("turn 3: deadline"), and whether it is worth a log line:
    not per call while a breaker is open (its opening was logged) or the deadline is spent."""
    if isinstance(error, BreakerOpen):
        return "breaker_open", False
    if isinstance(error, OutOfTime):
        return error.reason, error.asked
    return type(error).__name__, True
