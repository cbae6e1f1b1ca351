"""What of a provider's message JSON is stored: the envelope, never what the customer wrote."""

import json

import pytest

from server.channels import meta, twilio
from server.inbound.payload import DROPPED, MINIMISED, minimise
from tests.channels_helpers import fixture_names, load_fixture

CONTENT_KEYS = {"body", "caption", "title", "description", "response_json", "name", "address",
                "latitude", "longitude", "url", "filename", "phones", "emoji", "text", "payload",
                "headline", "source_url", "formatted_name"}


def _leaves(value, key=None):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, key)
    else:
        yield key, value


@pytest.mark.parametrize("name", [n for n in fixture_names("meta") if "status" not in n])
def test_meta_content_fields_are_dropped(name):
    for message in meta.parse_webhook(load_fixture(name)).messages:
        kept = minimise("meta", message.raw)
        assert kept[MINIMISED] is True and kept["id"] == message.provider_message_id
        for key, value in _leaves(kept):
            if key in CONTENT_KEYS:
                assert value == DROPPED, (name, key, value)


@pytest.mark.parametrize("name", ["twilio/text.form", "twilio/location.form", "twilio/media.form",
                                  "twilio/button_reply.form"])
def test_twilio_keeps_only_its_envelope(name):
    (message,) = twilio.parse_form(load_fixture(name)).messages
    kept = minimise("twilio", message.raw)
    for field in ("Body", "ProfileName", "Address", "Label", "Latitude", "Longitude", "MediaUrl0",
                  "ButtonText", "ButtonPayload"):
        assert field not in kept
    assert kept["MessageSid"] == message.provider_message_id and kept["WaId"] == "447700900123"


def test_unknown_fields_and_sentences_in_kept_fields_are_dropped():
    raw = {"id": "wamid.X", "type": "text", "timestamp": "1795340001", "from": "447700900123",
           "text": {"body": "card 4111 1111 1111 1111"}, "new_field": "liam@example.com",
           "image": {"mime_type": "image/jpeg; 4111 1111 1111 1111", "sha256": "abc="}}
    kept = minimise("meta", raw)
    assert "4111" not in json.dumps(kept) and "liam" not in json.dumps(kept)
    assert kept["new_field"] == DROPPED and kept["image"]["sha256"] == "abc="
    assert kept["timestamp"] == "1795340001" and kept["from"] == "447700900123"
