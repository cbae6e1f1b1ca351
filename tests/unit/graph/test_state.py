import pytest

from graph.state import (
    MAX_ORDER_REFS,
    RECENT_RECORDS,
    add_recent,
    add_usage,
    merge_passages,
    move,
    remember_orders,
)

AT = "2026-11-22T12:00:00+00:00"


@pytest.mark.parametrize("status, event, target", [
    ("new", "authed", "authenticated"), ("authenticated", "answered", "automated"),
    ("new", "answered", "automated"), ("automated", "handoff", "human"),
    ("new", "handoff", "human"), ("human", "returned", "automated"), ("human", "resolved", "closed"),
    ("automated", "window_expired", "dormant"), ("human", "window_expired", "dormant"),
    ("dormant", "customer_message", "new"), ("closed", "customer_message", "new"),
])
def test_moves(status, event, target):
    update = move(status, event, AT)
    assert update["status"] == target
    assert update["transitions"] == [{"source": status, "target": target, "event": event, "at": AT}]


def test_events_that_change_nothing_record_nothing():
    assert move("automated", "answered", AT) == {} and move("new", "returned", AT) == {}


def test_reducers():
    a, b = {"id": "a"}, {"id": "b"}
    assert merge_passages([a], [a, b]) == [a, b]
    total = add_usage(None, {"model_calls": 1, "tokens_in": 5, "tokens_out": 2, "cost_usd": 0.5})
    assert add_usage(total, total) == {"model_calls": 2, "tokens_in": 10, "tokens_out": 4, "cost_usd": 1.0}


def test_records_keep_only_the_latest():
    many = [f"turn {i}" for i in range(RECENT_RECORDS + 5)]
    assert add_recent(many[:3], many[3:]) == many[-RECENT_RECORDS:]
    assert add_recent([], ["a"]) == ["a"]


def test_order_numbers_remembered_are_the_latest_mentioned():
    assert remember_orders(["HP-1", "HP-2"], ["HP-1"]) == ["HP-2", "HP-1"]  # moved to the end
    assert remember_orders(["HP-1"], ["HP-3", "HP-3"]) == ["HP-1", "HP-3"]
    known = [f"HP-{i}" for i in range(MAX_ORDER_REFS)]
    assert remember_orders(known, ["HP-NEW"]) == [*known[1:], "HP-NEW"]
