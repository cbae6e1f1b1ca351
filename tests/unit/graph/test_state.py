import pytest

from graph.state import add_usage, merge_passages, move

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
