"""The one worker loop (server/loop.py): outages and bugs are logged once, stop and wake-ups
are honoured."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.exceptions

from server import loop
from server.availability import Availability
from server.loop import run_until_stopped

log = logging.getLogger("tests.loop")


def quick_availability() -> Availability:
    return Availability(log, "test loop", min_pause_s=0.001, max_pause_s=0.001)


def scripted(stop: asyncio.Event, *outcomes: BaseException | None):
    """A step that raises the given errors in turn (None: succeeds), then sets `stop`."""
    remaining = list(outcomes)

    async def step() -> float:
        if not remaining:
            stop.set()
            return 0
        outcome = remaining.pop(0)
        if outcome is not None:
            raise outcome
        return 0
    return step


def ours(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tests.loop"]


async def test_an_outage_is_one_line_when_it_starts_and_one_when_it_ends(caplog):
    caplog.set_level(logging.INFO, "tests.loop")
    stop, resumed = asyncio.Event(), []
    down = redis.exceptions.ConnectionError("connection refused")
    await asyncio.wait_for(run_until_stopped(
        scripted(stop, down, down, down, None, None), stop, quick_availability(),
        bug_pause_s=0, resumed=lambda: resumed.append(True)), 5)
    lines = [r.getMessage() for r in ours(caplog)]
    assert lines == ["test loop paused: Redis unavailable (ConnectionError: connection refused);"
                     " retrying quietly", "test loop resumed: Redis is back"]
    assert not [r for r in ours(caplog) if r.exc_info]
    assert resumed == [True]


async def test_a_bug_logs_its_traceback_once_while_it_repeats(caplog):
    caplog.set_level(logging.INFO, "tests.loop")
    stop = asyncio.Event()
    boom, other = ValueError("boom"), KeyError("other")
    await asyncio.wait_for(run_until_stopped(
        scripted(stop, boom, boom, boom, other, other, None), stop, quick_availability(),
        bug_pause_s=0), 5)
    tracebacks = [r for r in ours(caplog) if r.exc_info]
    assert [type(r.exc_info[1]) for r in tracebacks] == [ValueError, KeyError]
    assert all(r.getMessage() == "test loop iteration failed" for r in tracebacks)
    assert [r.getMessage() for r in ours(caplog) if not r.exc_info] == [
        "test loop iteration works again"]


async def test_a_bug_whose_message_changes_is_still_one_bug(caplog):
    caplog.set_level(logging.INFO, "tests.loop")
    stop, passes = asyncio.Event(), []

    async def step() -> float:
        passes.append(True)
        if len(passes) > 3:
            stop.set()
            return 0
        raise LookupError(f"no row {len(passes)}")  # one line of code, a new id each time
    await asyncio.wait_for(run_until_stopped(step, stop, quick_availability(), bug_pause_s=0), 5)
    assert len([r for r in ours(caplog) if r.exc_info]) == 1


async def test_a_repeating_bug_is_recalled_in_one_line_now_and_then(caplog, monkeypatch):
    caplog.set_level(logging.INFO, "tests.loop")
    monkeypatch.setattr(loop, "BUG_REMINDER_S", 0.0)
    stop, boom = asyncio.Event(), ValueError("boom")
    await asyncio.wait_for(run_until_stopped(
        scripted(stop, boom, boom, boom), stop, quick_availability(), bug_pause_s=0), 5)
    reminders = [r for r in ours(caplog) if "still failing" in r.getMessage()]
    assert [r.getMessage() for r in reminders] == [
        "test loop iteration still failing (1 more times): ValueError: boom",
        "test loop iteration still failing (2 more times): ValueError: boom"]
    assert not [r for r in reminders if r.exc_info]


async def test_stop_ends_a_long_pause_and_no_step_runs_after_it():
    stop, steps = asyncio.Event(), []

    async def step() -> float:
        steps.append(True)
        return 60.0
    task = asyncio.create_task(run_until_stopped(step, stop, quick_availability(), bug_pause_s=0))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 1)
    assert steps == [True]


async def test_a_stopped_loop_runs_no_step():
    stop = asyncio.Event()
    stop.set()

    async def step() -> float:
        raise AssertionError("ran after stop")
    await asyncio.wait_for(run_until_stopped(step, stop, quick_availability(), bug_pause_s=0), 1)


async def test_a_wake_up_ends_the_pause_even_when_set_during_the_step():
    stop, woken, steps = asyncio.Event(), asyncio.Event(), []

    async def step() -> float:
        steps.append(True)
        if len(steps) == 1:
            woken.set()  # e.g. new work committed while this pass ran
        elif len(steps) == 2:
            asyncio.get_running_loop().call_later(0.05, woken.set)
        else:
            stop.set()
        return 60.0
    await asyncio.wait_for(run_until_stopped(step, stop, quick_availability(), bug_pause_s=0,
                                             wake_on=[woken]), 2)
    assert len(steps) == 3


@pytest.mark.parametrize("seconds", [0, -1])
async def test_idle_returns_at_once_for_no_pause(seconds):
    await asyncio.wait_for(loop.idle(seconds, asyncio.Event()), 0.5)
