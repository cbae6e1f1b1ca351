"""The lease heartbeat (server/inbound/lease.py) on a scripted lease store: it renews what the
worker holds, reports leases another worker took, and rides out a Redis outage."""

from __future__ import annotations

import asyncio

import redis.exceptions

from server.inbound.lease import Lease, heartbeat


class ScriptedLeases:
    """Stands in for `Leases`: each renew returns (or raises) the next scripted outcome."""

    heartbeat_s = 0.01

    def __init__(self, *outcomes: set[str] | BaseException):
        self.outcomes, self.renewed = list(outcomes), []

    async def renew(self, leases):
        self.renewed.append(sorted(lease.conversation_key for lease in leases))
        outcome = self.outcomes.pop(0) if self.outcomes else set()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def lease(key: str) -> Lease:
    return Lease(key, "token", 1, 0.0)


async def until(condition, within_s: float = 2.0) -> None:
    for _ in range(int(within_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_renews_what_is_held_and_reports_a_lease_taken_over():
    leases, lost = ScriptedLeases(redis.exceptions.ConnectionError("down"), {"b"}), []
    held = {"a": lease("a"), "b": lease("b")}
    task = asyncio.create_task(heartbeat(leases, held.values, lost.append))  # type: ignore[arg-type]
    try:
        await until(lambda: lost)  # the outage did not end the heartbeat
        assert lost == ["b"]
        assert leases.renewed[:2] == [["a", "b"], ["a", "b"]]
    finally:
        task.cancel()


async def test_holding_nothing_renews_nothing():
    leases, held = ScriptedLeases(), {}
    task = asyncio.create_task(heartbeat(leases, held.values, print))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    held["a"] = lease("a")
    await until(lambda: leases.renewed)
    task.cancel()
    assert leases.renewed[0] == ["a"]
