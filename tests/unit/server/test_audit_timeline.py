"""Reading the trail: which conversation an argument names, and each event as one line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from server import conversation_ids
from server.audit_timeline import conversation_ref, line

KEY = "447700900123"


@pytest.fixture(autouse=True)
def refs(monkeypatch):
    monkeypatch.setattr(conversation_ids, "_pads", conversation_ids.hmac_pads(b"k" * 32))


@pytest.mark.parametrize("written", ["447700900123", "+44 7700 900123", "+44-7700-900-123"])
def test_a_phone_number_however_written_names_its_conversation(written):
    assert conversation_ref(written) == conversation_ids.ref(KEY)


def test_a_ref_names_itself_and_a_bsuid_its_conversation():
    ref = conversation_ids.ref(KEY)
    assert conversation_ref(ref) == ref
    assert conversation_ref("US.1349120865") == conversation_ids.ref("bsuid:US.1349120865")
    assert conversation_ref("bsuid:US.1349120865") == conversation_ids.ref("bsuid:US.1349120865")


def test_an_empty_argument_is_refused():
    with pytest.raises(ValueError):
        conversation_ref("  ")


def test_a_line_shows_utc_time_and_what_was_decided():
    at = datetime(2026, 12, 4, 21, 30, tzinfo=timezone(timedelta(hours=2)))
    shown = line({"at": at, "turn": 2, "actor": "bot", "kind": "model_call", "reason": "ok",
                  "payload": {"role": "agent"}, "model": "gpt-test", "tokens_in": 10,
                  "tokens_out": 5, "cost_usd": Decimal("0.00120"), "intent": None, "confidence": None})
    assert shown["at"] == "2026-12-04 19:30:00" and shown["cost_usd"] == pytest.approx(0.0012)
    assert shown["what"] == "ok · model=gpt-test tokens=10/5 cost=$0.00120"
    routed = line({"at": at.astimezone(UTC), "turn": 1, "actor": "bot", "kind": "route",
                   "reason": "query", "payload": {"brain": "offline"}, "intent": "billing",
                   "confidence": 0.8})
    assert routed["what"] == "query · intent=billing confidence=0.8 · brain=offline"
