"""Twilio templates: our names to Content SIDs, variables as Twilio's JSON object."""

from __future__ import annotations

import json

import pytest

from server.outbox import NotSendable, TwilioSender
from server.outbox.twilio_sender import content_variables, whatsapp_address

HX = "HX" + "c" * 32


def sender(**content_sids: str) -> TwilioSender:
    return TwilioSender(account_sid="AC" + "0" * 32, auth_token="t", from_number="whatsapp:+14155238886",
                        content_sids=content_sids)


def test_template_names_map_to_content_sids_per_language_first():
    twilio = sender(order_update_v1=HX, **{"order_update_v1:es": "HX" + "d" * 32})
    assert twilio.content_sid("order_update_v1", "en") == HX
    assert twilio.content_sid("order_update_v1", "es") == "HX" + "d" * 32
    assert twilio.content_sid(HX) == HX  # a Content SID itself is taken as it is


@pytest.mark.parametrize("name", ["winback_v2", "HX123", "hx" + "c" * 32 + "x"])
def test_a_template_with_no_content_sid_cannot_be_sent(name):
    with pytest.raises(NotSendable, match="no Twilio Content SID is configured for template") as refused:
        sender(order_update_v1=HX).content_sid(name, "en")
    assert "TWILIO__CONTENT_SIDS" in str(refused.value) and refused.value.provider == "twilio"


def test_content_variables_from_a_mapping_or_meta_components():
    assert json.loads(content_variables({1: "HP123", "2": 5})) == {"1": "HP123", "2": "5"}
    components = [{"type": "body", "parameters": [{"type": "text", "text": "Ada"},
                                                   {"type": "text", "text": "HP123"}]}]
    assert json.loads(content_variables(components)) == {"1": "Ada", "2": "HP123"}
    assert content_variables(None) is None and content_variables([]) is None


def test_whatsapp_addresses():
    assert whatsapp_address("447700900123") == "whatsapp:+447700900123"
    assert whatsapp_address("+447700900123") == "whatsapp:+447700900123"
    assert whatsapp_address("whatsapp:+447700900123") == "whatsapp:+447700900123"
