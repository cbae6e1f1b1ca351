"""The server's audit events: an inbound message without its text, a turn's decisions stamped
with the conversation's ref and turn, then its reply or silence, and send statuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graph.base.audit import AuditEvent, AuditKind
from server import conversation_ids
from server.audit_events import inbound_event, send_event, turn_events
from server.channels.models import InboundMessage
from server.conversations import Turn

KEY = "447700900123"


@pytest.fixture(autouse=True)
def refs(monkeypatch):
    monkeypatch.setattr(conversation_ids, "_pads", conversation_ids.hmac_pads(b"k" * 32))


def test_an_inbound_message_is_its_id_type_length_and_language_never_its_text():
    text = "Hola, mi correo es ana@example.com y mi pedido no llega"
    message = InboundMessage(provider="meta", provider_message_id="wamid.1", conversation_id=KEY,
                             phone=KEY, business_scoped_user_id=None, profile_name="Ana",
                             kind="text", text=text, sent_at=datetime.now(UTC), raw={})
    event = inbound_event(message)
    assert event.conversation_ref == conversation_ids.ref(KEY) and event.actor == "customer"
    assert event.payload == {"provider": "meta", "message_id": "wamid.1", "type": "text",
                             "length": len(text), "language": "es", "needs_turn": True}
    assert "Ana" not in str(event) and KEY not in str(event)


def test_a_turns_decisions_are_stamped_and_end_with_its_reply():
    decided = AuditEvent(kind=AuditKind.ROUTE, actor="bot", turn=2, intent="billing")
    turn = Turn(replies=["Hello", "More"], state={"turn": 2}, decisions=[decided])
    route, reply = turn_events(turn, key=KEY, outcome=turn.outcome)
    assert route.conversation_ref == reply.conversation_ref == conversation_ids.ref(KEY)
    assert route.intent == "billing" and reply.turn == 2
    assert (reply.kind, reply.reason, reply.payload["parts"], reply.payload["length"]) == (
        AuditKind.REPLY, "replied", 2, 9)


def test_a_silent_turn_ends_with_its_silence_and_reason():
    turn = Turn(replies=[], silence="rate_limited", state={"turn": 5})
    [silence] = turn_events(turn, key=KEY, outcome=turn.outcome)
    assert (silence.kind, silence.reason, silence.turn) == (AuditKind.SILENCE, "rate_limited", 5)


def test_a_reply_discarded_for_a_human_is_a_silence():
    turn = Turn(replies=[], state={"turn": 1})
    [silence] = turn_events(turn, key=KEY, outcome=("silent", "human_took_over"))
    assert silence.reason == "human_took_over"


def test_sends_keep_status_and_error_code_read_receipts_are_not_recorded():
    row = {"id": 7, "kind": "text", "provider": "meta", "conversation_key": KEY}
    event = send_event(row, "failed", error={"code": 131026, "message": "undeliverable"},
                       by_status_webhook=True)
    assert event is not None and event.reason == "failed"
    assert event.payload == {"outbox_id": 7, "kind": "text", "provider": "meta",
                             "source": "status_webhook", "code": 131026}
    assert send_event({**row, "kind": "read_receipt"}, "sent") is None
