"""What the customer and agents said since the handoff: one reading for the console page and
for the graph's hand-back (server/desk/events.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from server.desk.events import since_handoff

T0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


def event(id: int, kind: str, actor: str = "system", to_state: str | None = None,
          payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": id, "kind": kind, "actor": actor, "to_state": to_state, "payload": payload,
            "at": T0 + timedelta(minutes=id)}


def handoff(id: int) -> dict[str, Any]:
    return event(id, "transition", "bot", "PENDING_AGENT")


def test_only_messages_after_the_latest_bot_handoff_count():
    log = [
        event(1, "customer_message", "customer", payload={"text": "before the first handoff"}),
        handoff(2),
        event(3, "agent_message", "agent:sam", payload={"text": "from the first handoff"}),
        handoff(4),
        event(5, "customer_message", "customer", payload={"text": "hello?"}),
        event(6, "note", "agent:sam", payload={"text": "an internal note"}),
        event(7, "transition", "agent:sam", "AGENT"),
        event(8, "agent_message", "agent:sam", payload={"text": "here now"}),
    ]
    assert since_handoff(log) == [
        {"from": "customer", "agent": "customer", "text": "hello?", "at": T0 + timedelta(minutes=5)},
        {"from": "agent", "agent": "sam", "text": "here now", "at": T0 + timedelta(minutes=8)},
    ]


def test_an_agent_moving_it_back_to_pending_is_not_a_new_handoff():
    log = [handoff(1), event(2, "customer_message", "customer", payload={"text": "still there?"}),
           event(3, "transition", "agent:sam", "PENDING_AGENT")]
    assert [m["text"] for m in since_handoff(log)] == ["still there?"]


def test_a_template_without_text_is_shown_by_name_and_a_log_without_handoff_is_all_messages():
    log = [event(1, "agent_message", "agent:ana", payload={"text": None, "template": "order_update_v1"}),
           event(2, "customer_message", "customer", payload={"text": "thanks"})]
    assert [(m["from"], m["text"]) for m in since_handoff(log)] == [
        ("agent", "[template order_update_v1]"), ("customer", "thanks")]


def test_nothing_after_the_handoff_is_an_empty_exchange():
    assert since_handoff([event(1, "customer_message", "customer", payload={"text": "x"}),
                          handoff(2)]) == []
