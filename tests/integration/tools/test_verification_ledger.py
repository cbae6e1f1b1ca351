"""The verification ledger on real PostgreSQL: counters per customer, per number and overall,
lockouts, forgiveness after a success, the audit rows, crash re-runs and parallel guesses."""

from __future__ import annotations

import asyncio

import pytest

from graph.base.settings import VerificationSettings
from server.database import open_pool
from server.migrations import migrate_pool
from tests.verification_helpers import attempts, fresh_clock, new_phone
from tools.verification import Attempt, VerificationLedger

pytestmark = pytest.mark.integration

LIAM = "C-1004"


def wrong(customer: str | None = LIAM, ref: str = "HP-10007", failures: int = 1) -> Attempt:
    reason = "mismatch" if customer else "unknown_order"
    return Attempt(ref, customer, False, failures, reason)


def right(customer: str = LIAM, ref: str = "HP-10007") -> Attempt:
    return Attempt(ref, customer, True, 1, "match")


@pytest.fixture
async def open_ledger(settings, database_url):
    """Factory: a ledger on the test database, with optional per-number/global limits."""
    pool = await open_pool(settings, database_url, max_size=30)
    await migrate_pool(pool)

    async def make(**limits):
        ledger = VerificationLedger(pool, settings.model_copy(
            update={"verification": VerificationSettings(**limits)}))
        return ledger, await fresh_clock(pool)
    yield make
    await pool.close()


async def test_a_wrong_guess_is_counted_and_recorded_without_the_number(open_ledger):
    ledger, clock = await open_ledger()
    phone = new_phone()
    verdict = await ledger.settle(phone, [wrong()], now=clock())
    assert (verdict.outcome, verdict.failures, verdict.tries_left) == ("failed", 1, 2)
    [row] = await attempts(ledger.pool, clock())
    assert (row["order_ref"], row["customer_id"], row["outcome"], row["reason"]) == (
        "HP-10007", LIAM, "failed", "mismatch")
    assert phone not in repr(row) and row["number_key"] == await ledger.number_key(phone)


async def test_the_third_failure_locks_the_number_for_its_window(open_ledger):
    ledger, clock = await open_ledger()
    phone = new_phone()
    await ledger.settle(phone, [wrong(None, "HP-99991")], now=clock(0))
    await ledger.settle(phone, [wrong(None, "HP-99992")], now=clock(1))
    verdict = await ledger.settle(phone, [wrong(None, "HP-99993")], now=clock(2))
    assert verdict.outcome == "locked" and verdict.tripped and verdict.until == clock(17)
    # Refused while locked, the right answer included, and refusals do not extend the lock.
    refused = await ledger.settle(phone, [right()], now=clock(10))
    assert (refused.outcome, refused.tripped) == ("locked", False)
    assert (await ledger.check_locked(None, phone, clock(16))).until == clock(17)
    assert await ledger.check_locked(None, phone, clock(17, 1)) is None
    assert (await ledger.settle(phone, [right()], now=clock(18))).outcome == "verified"


async def test_a_customer_locked_by_other_numbers_stays_locked_for_a_fresh_one(open_ledger):
    ledger, clock = await open_ledger()
    for minute in range(3):
        assert (await ledger.settle(new_phone(), [wrong()], now=clock(minute))).outcome == "failed"
    fresh = new_phone()
    assert (await ledger.check_locked(LIAM, fresh, clock(5))).scope == "customer"
    # The right secret from a fresh number is refused, in the words of a wrong guess.
    verdict = await ledger.settle(fresh, [right()], now=clock(5))
    assert (verdict.outcome, verdict.tries_left) == ("failed", 2)
    assert (await ledger.settle(fresh, [right()], now=clock(18))).outcome == "verified"


async def test_a_success_forgives_only_that_numbers_own_failures_for_that_customer(open_ledger):
    ledger, clock = await open_ledger()
    owner, attacker = new_phone(), new_phone()
    await ledger.settle(owner, [wrong()], now=clock(0))  # the owner's typo
    await ledger.settle(owner, [wrong(None, "HP-99999")], now=clock(0, 10))  # and a wrong order
    await ledger.settle(attacker, [wrong()], now=clock(1))
    assert (await ledger.settle(owner, [right()], now=clock(2))).outcome == "verified"
    # Liam's typo is forgiven, the attacker's guess is not: one more guess, not two, locks him.
    await ledger.settle(new_phone(), [wrong()], now=clock(3))
    assert await ledger.check_locked(LIAM, new_phone(), clock(3, 30)) is None
    await ledger.settle(new_phone(), [wrong()], now=clock(4))
    assert (await ledger.check_locked(LIAM, new_phone(), clock(5))).scope == "customer"
    # The owner's number keeps its unknown-order failure: two more lock it.
    assert (await ledger.settle(owner, [wrong(None, "HP-99998")], now=clock(5))).tries_left == 1


async def test_a_success_does_not_reset_the_number_for_other_customers(open_ledger):
    ledger, clock = await open_ledger()
    phone = new_phone()
    await ledger.settle(phone, [wrong("C-1001", "HP-10001")], now=clock(0))
    await ledger.settle(phone, [wrong("C-1002", "HP-10003")], now=clock(1))
    assert (await ledger.settle(phone, [right()], now=clock(2))).outcome == "verified"
    verdict = await ledger.settle(phone, [wrong("C-1003", "HP-10005")], now=clock(3))
    assert verdict.outcome == "locked" and verdict.tripped


async def test_many_secrets_with_one_order_count_each_and_lock_at_once(open_ledger):
    ledger, clock = await open_ledger()
    phone = new_phone()
    verdict = await ledger.settle(phone, [Attempt("HP-10007", LIAM, False, 31, "several_secrets")],
                                  now=clock())
    assert verdict.outcome == "locked" and verdict.failures == 31
    assert (await ledger.check_locked(LIAM, new_phone(), clock(1))).scope == "customer"


async def test_two_matching_attempts_in_one_message_verify_nobody(open_ledger):
    ledger, clock = await open_ledger()
    verdict = await ledger.settle(new_phone(), [right(), right("C-1001", "HP-10001")], now=clock())
    assert verdict.outcome != "verified"
    assert {r["outcome"] for r in await attempts(ledger.pool, clock())} == {"failed"}


async def test_the_global_window_pauses_everyone_then_reopens(open_ledger):
    ledger, clock = await open_ledger(global_failures=5, global_window_minutes=10)
    for i in range(5):
        await ledger.settle(new_phone(), [wrong(None, f"HP-9999{i}")], now=clock(i))
    paused = await ledger.settle(new_phone(), [right()], now=clock(6))
    assert paused.outcome == "paused" and paused.until == clock(14)
    row = (await attempts(ledger.pool, clock(6)))[0]
    assert (row["outcome"], row["reason"], row["failures"]) == ("refused", "paused", 0)
    assert (await ledger.settle(new_phone(), [right()], now=clock(15))).outcome == "verified"


async def test_a_crashed_turn_run_again_is_recorded_and_decided_once(open_ledger):
    ledger, clock = await open_ledger()
    phone = new_phone()
    await ledger.settle(phone, [wrong()], now=clock(0), turn_key="t1")
    await ledger.settle(phone, [wrong()], now=clock(1), turn_key="t2")
    first = await ledger.settle(phone, [wrong()], now=clock(2), turn_key="t3")
    again = await ledger.settle(phone, [wrong()], now=clock(2), turn_key="t3")
    assert first == again and first.tripped  # the re-run still brings in a human
    assert len(await attempts(ledger.pool, clock())) == 3


async def test_parallel_guesses_from_many_numbers_get_exactly_the_limit(open_ledger):
    ledger, clock = await open_ledger()
    await asyncio.gather(*(ledger.settle(new_phone(), [wrong()], now=clock()) for _ in range(20)))
    outcomes = [r["outcome"] for r in await attempts(ledger.pool, clock())]
    assert outcomes.count("failed") == 3 and outcomes.count("refused") == 17


async def test_a_right_guess_racing_wrong_ones_only_wins_before_the_lock(open_ledger):
    ledger, clock = await open_ledger()
    guesses = [wrong()] * 8 + [right()] + [wrong()] * 8
    verdicts = await asyncio.gather(*(ledger.settle(new_phone(), [g], now=clock()) for g in guesses))
    rows = await attempts(ledger.pool, clock())  # in the order the ledger decided them
    outcomes = [r["outcome"] for r in rows]
    assert outcomes.count("failed") == 3
    if "verified" in outcomes:
        assert outcomes[:outcomes.index("verified")].count("failed") < 3
    assert [v.outcome for v in verdicts].count("verified") == outcomes.count("verified")


async def test_windows_forget_old_failures(open_ledger):
    ledger, clock = await open_ledger()
    phone = new_phone()
    await ledger.settle(phone, [wrong()], now=clock(0))
    await ledger.settle(phone, [wrong()], now=clock(1))
    verdict = await ledger.settle(phone, [wrong()], now=clock(16, 30))
    assert (verdict.outcome, verdict.tries_left) == ("failed", 2)


async def test_failures_after_a_success_count_again(open_ledger):
    ledger, clock = await open_ledger()
    phone = new_phone()
    assert (await ledger.settle(phone, [right()], now=clock(0))).outcome == "verified"
    await ledger.settle(phone, [wrong()], now=clock(1))
    await ledger.settle(phone, [wrong()], now=clock(2))
    assert (await ledger.settle(phone, [wrong()], now=clock(3))).outcome == "locked"
    assert (await ledger.check_locked(LIAM, new_phone(), clock(4))).scope == "customer"
