"""The authenticate node where no Postgres is involved: who needs no check, no ledger, and who
is looked up by phone number (only a real one)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from langgraph.runtime import Runtime

from graph.base.conversation import conversation_id, phone_of
from graph.context import Context
from graph.state import State
from nodes import prompts
from nodes.authenticate import _minutes, authenticate
from tests.unit.in_memory import InMemoryShop, offline_services
from tools.verification import Attempt, Lock, Verdict, _row

VERIFIED = {"status": "verified", "method": "order_claim", "attempts": 0, "locked_until": None}


async def test_a_verified_conversation_is_left_alone(runtime):
    state = State(intent="order_status", verification=VERIFIED,
                  customer={"id": "C-1004", "name": "Liam", "phone": None, "email": "", "tier": "retail"})
    assert await authenticate(state, runtime(phone=None)) == {}


async def test_a_policy_question_needs_no_check(runtime):
    assert await authenticate(State(intent="product_question"), runtime(phone=None)) == {}
    # The router calls it order_status, but it needs no account (nodes/own_account.py).
    assert await authenticate(State(intent="order_status", needs_account=False),
                              runtime(inbound=["Do you deliver on Saturdays?"], phone=None)) == {}


async def test_without_a_ledger_no_order_claim_is_tried(runtime):
    update = await authenticate(State(intent="order_status", needs_account=True),
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


class RecordingLedger:
    """Stands in for the verification ledger: records whom each check was for, locks nobody."""

    def __init__(self):
        self.senders: list[str] = []

    async def check_locked(self, customer_id, number, now):
        self.senders.append(number)
        return None

    async def settle(self, number, attempts, *, now, turn_key, conversation_ref=None, turn=None):
        self.senders.append(number)
        return Verdict(outcome="failed", failures=1, tries_left=4)


def _username_only_runtime(shop, ledger, inbound):
    services = replace(offline_services(shop), verification=ledger)
    customer = conversation_id(None, "US.13491208655302741918")
    return Runtime(context=Context(conversation_id=customer, phone=phone_of(customer),
                                   inbound=inbound, now="2026-11-22T12:00:00+00:00",
                                   services=services))


async def test_a_username_only_customer_is_never_looked_up_as_a_phone_number():
    shop, ledger = InMemoryShop(), RecordingLedger()
    update = await authenticate(State(intent="order_status", needs_account=True),
                                _username_only_runtime(shop, ledger, ["where is my order?"]))
    assert update["outbound"] == [prompts.VERIFY_ASK] and "customer" not in update
    assert not [c for c in shop.calls if c[0] == "customer_by_phone"]
    # The ledger still counts this sender's tries: by the conversation id, not as a number.
    assert ledger.senders == ["bsuid:US.13491208655302741918"]


async def test_a_username_only_customer_proves_an_order_like_anyone_without_a_number_on_file():
    shop, ledger = InMemoryShop(), RecordingLedger()
    update = await authenticate(State(intent="order_status", needs_account=True),
                                _username_only_runtime(shop, ledger, ["HP-10002 nobody@example.com"]))
    assert update["verification"]["status"] == "challenged"
    assert [c for c in shop.calls if c[0] == "order_for_verification"]
    assert not [c for c in shop.calls if c[0] == "customer_by_phone"]
    assert ledger.senders == ["bsuid:US.13491208655302741918"]


async def test_a_number_on_file_verifies_at_once(runtime):
    shop = InMemoryShop()
    context = runtime(phone="447700900101").context
    context.services = offline_services(shop)
    update = await authenticate(State(intent="order_status"), Runtime(context=context))
    assert update["customer"]["id"] == "C-1"
    assert update["verification"]["method"] == "phone_on_file"
    assert ("customer_by_phone", ("447700900101",)) in shop.calls
    assert context.conversation_id == "447700900101"
