"""Which desk events are audit events: the bot's handoff, a human's hand-back, console actions;
never what people wrote."""

from __future__ import annotations

import pytest

from graph.base.audit import AuditKind
from server import conversation_ids
from server.desk.audit_trail import audit_event_for

KEY = "447700900123"


@pytest.fixture(autouse=True)
def refs(monkeypatch):
    monkeypatch.setattr(conversation_ids, "_pads", conversation_ids.hmac_pads(b"k" * 32))


def test_a_bot_handoff_is_a_handoff_with_its_reason_and_turn():
    event = audit_event_for(KEY, "bot", "transition", from_state=None, to_state="PENDING_AGENT",
                            reason="vip", payload={"reference": "H-1"}, turn=3)
    assert event is not None and (event.kind, event.reason, event.turn) == (AuditKind.HANDOFF, "vip", 3)
    assert event.conversation_ref == conversation_ids.ref(KEY) and event.payload["reference"] == "H-1"


@pytest.mark.parametrize("action", ["return_to_bot", "resolved"])
def test_a_hand_back_is_a_return(action):
    event = audit_event_for(KEY, "agent:sam", "transition", from_state="AGENT", to_state="BOT",
                            reason=action, payload={"notes": "customer is happy, phone 07700900123"})
    assert event is not None and (event.kind, event.actor, event.reason) == (AuditKind.RETURN, "agent:sam", action)
    assert "notes" not in event.payload


def test_console_actions_keep_the_action_and_ids_not_what_was_written():
    reply = audit_event_for(KEY, "agent:sam", "agent_message", from_state=None, to_state=None,
                            reason=None, payload={"text": "Your refund is on its way", "template": None})
    assert reply is not None and (reply.kind, reply.reason) == (AuditKind.CONSOLE, "agent_message")
    assert reply.payload == {"action": "agent_message"}
    assigned = audit_event_for(KEY, "agent:boss", "transition", from_state="AGENT", to_state="AGENT",
                               reason="assigned by boss", payload={"assigned_agent": "sam", "team": "support"})
    assert assigned is not None and assigned.reason == "assigned by boss"
    assert assigned.payload["assigned_agent"] == "sam"


def test_customer_and_system_desk_events_are_left_to_where_they_happen():
    assert audit_event_for(KEY, "customer", "customer_message", from_state=None, to_state=None,
                           reason=None, payload={"text": "hi"}) is None
    assert audit_event_for(KEY, "system", "sla_breach", from_state=None, to_state=None,
                           reason="late", payload={}) is None
