"""The authenticate node where no Postgres is involved: who needs no check, and no ledger."""

from __future__ import annotations

from datetime import UTC, datetime

from graph.state import State
from nodes import prompts
from nodes.authenticate import _minutes, authenticate
from tools.verification import Attempt, Lock, _row

VERIFIED = {"status": "verified", "method": "order_claim", "attempts": 0, "locked_until": None}


async def test_a_verified_conversation_is_left_alone(runtime):
    state = State(intent="order_status", verification=VERIFIED,
                  customer={"id": "C-1004", "name": "Liam", "phone": None, "email": "", "tier": "retail"})
    assert await authenticate(state, runtime(phone=None)) == {}


async def test_a_policy_question_needs_no_check(runtime):
    assert await authenticate(State(intent="product_question"), runtime(phone=None)) == {}


async def test_without_a_ledger_no_order_claim_is_tried(runtime):
    update = await authenticate(State(intent="order_status"),
                                runtime(inbound=["HP-10007 41JS"], phone=None))
    assert update["outbound"] == [prompts.VERIFY_PAUSED] and "customer" not in update


def test_lock_minutes_round_up():
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert _minutes(datetime(2030, 1, 1, 0, 14, 1, tzinfo=UTC), now) == 15
    assert _minutes(datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC), now) == 1


def test_ledger_rows_count_what_they_should():
    lock = Lock("number", datetime(2030, 1, 1, tzinfo=UTC))
    guess = Attempt("HP-10007", "C-1004", False, 4, "several_secrets")
    hit = Attempt("HP-10007", "C-1004", True, 1, "match")
    assert _row(guess, None, set(), alone=True) == ("failed", "several_secrets", 4)
    assert _row(hit, None, set(), alone=True) == ("verified", "match", 0)
    assert _row(hit, None, set(), alone=False) == ("failed", "match", 1)  # never with another
    assert _row(hit, None, {"C-1004"}, alone=True) == ("refused", "customer_locked", 1)
    assert _row(hit, lock, set(), alone=True) == ("refused", "number_locked", 0)
