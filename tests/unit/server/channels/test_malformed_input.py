"""Malformed and hostile provider payloads: refused with a reason, or repaired and kept."""

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from server.channels import meta, twilio
from server.channels.models import (
    MAX_TEXT_CHARS,
    InboundMessage,
    MalformedPayload,
    phone_digits,
    unix_time,
)
from tests.channels_helpers import load_fixture

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def meta_payload(**message_fields) -> dict:
    payload = copy.deepcopy(load_fixture("meta/text"))
    payload["entry"][0]["changes"][0]["value"]["messages"][0].update(message_fields)
    return payload


def messages_of(payload: dict) -> list:
    return payload["entry"][0]["changes"][0]["value"]["messages"]


# --- timestamps -----------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("1763800000", datetime.fromtimestamp(1763800000, UTC)),
    (1763800000.5, datetime.fromtimestamp(1763800000.5, UTC)),
    ("1763800000.5", datetime.fromtimestamp(1763800000.5, UTC)),
    ("0", datetime(1970, 1, 1, tzinfo=UTC)),
    (-3_155_760_000, datetime(1970, 1, 1, tzinfo=UTC) - timedelta(seconds=3_155_760_000)),
    ("99999999999", NOW), (10**300, NOW), (str(NOW.timestamp() + 1), NOW),
])
def test_timestamps_in_the_future_become_the_arrival_time_past_ones_are_kept(value, expected):
    assert unix_time(value, "m", NOW) == expected


@pytest.mark.parametrize("value", ["yesterday", "", True, None, [1], {"s": 1}, "nan", "inf",
                                   "1e999", -10**12, "9" * 5000])
def test_timestamps_that_are_not_unix_seconds_are_malformed(value):
    with pytest.raises(MalformedPayload, match="timestamp"):
        unix_time(value, "m", NOW)


def test_a_status_in_the_future_is_clamped_too():
    payload = load_fixture("meta/status_read")
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"] = "4102444800"
    assert meta.parse_webhook(payload, received_at=NOW).statuses[0].at == NOW


# --- identities -----------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "digits"), [
    ("+447700900123", "447700900123"), (" 447700900123 ", "447700900123"), (447700900123,
                                                                            "447700900123"),
    (None, None), ("", None),
])
def test_phone_numbers(value, digits):
    assert phone_digits(value, "from") == digits


@pytest.mark.parametrize("value", ["4" * 21, "44 7700", "447700900123\x00", "٤٤٧٧", "+", -44,
                                   True, ["447700900123"], {"wa_id": "1"}, "44abc"])
def test_anything_else_is_not_a_phone_number(value):
    with pytest.raises(MalformedPayload, match="not a phone number"):
        phone_digits(value, "from")


@pytest.mark.parametrize("fields", [
    {"id": {"$ne": None}}, {"id": "w" * 300}, {"id": ""}, {"id": True},
    {"from": "4" * 500}, {"from": None, "from_user_id": "U" * 500},
    {"from": None, "from_user_id": "GB.1\nInjected: yes"},
], ids=["id-object", "id-300", "id-empty", "id-bool", "from-500", "bsuid-500", "bsuid-newline"])
def test_bad_ids_make_the_message_malformed(fields):
    with pytest.raises(MalformedPayload):
        meta.parse_webhook(meta_payload(**fields))


def test_a_numeric_id_is_kept_as_text():
    assert meta.parse_webhook(meta_payload(id=12345)).messages[0].provider_message_id == "12345"


# --- one bad message does not sink the delivery --------------------------------------------

def test_good_messages_are_kept_and_the_bad_ones_described():
    payload = meta_payload()
    good = messages_of(payload)[0]
    messages_of(payload).extend([7, dict(good, id="wamid.B", timestamp="never"),
                                 dict(good, id="wamid.C")])
    payload["entry"].append({"changes": "not-a-list"})
    batch = meta.parse_webhook(payload, received_at=NOW)
    assert [m.provider_message_id for m in batch.messages] == [good["id"], "wamid.C"]
    assert len(batch.rejected) == 3
    assert "messages[1] must be an object, not int" in batch.rejected[0]
    assert "timestamp 'never' is not unix seconds" in batch.rejected[1]
    assert "entry[1].changes must be a list" in batch.rejected[2]


def test_a_delivery_with_nothing_usable_is_malformed():
    payload = meta_payload(timestamp="never")
    messages_of(payload).append(None)
    with pytest.raises(MalformedPayload, match="not unix seconds; .*must be an object"):
        meta.parse_webhook(payload)


# --- text -----------------------------------------------------------------------------------

def test_text_is_cut_to_whatsapps_limit_and_the_cut_recorded():
    message = meta.parse_webhook(meta_payload(text={"body": "é" * 10_000})).messages[0]
    assert (len(message.text), message.truncated_from) == (MAX_TEXT_CHARS, 10_000)
    short = meta.parse_webhook(meta_payload(text={"body": "x" * MAX_TEXT_CHARS})).messages[0]
    assert (len(short.text), short.truncated_from) == (MAX_TEXT_CHARS, None)


def test_twilio_text_is_cut_too():
    form = dict(load_fixture("twilio/text.form"), Body="y" * 5000)
    (message,) = twilio.parse_form(form).messages
    assert (len(message.text), message.truncated_from) == (MAX_TEXT_CHARS, 5000)


@pytest.mark.parametrize("body", ["", "   \n\t"])
def test_blank_text_is_kept_but_starts_no_turn(body):
    (message,) = meta.parse_webhook(meta_payload(text={"body": body})).messages
    assert message.kind == "text" and not message.needs_turn


@pytest.mark.parametrize(("fields", "text"), [
    ({"text": {"body": {"nested": 1}}}, ""), ({"text": "plain"}, ""),
    ({"type": "interactive", "interactive": {"type": ["list"]}},
     "[unsupported message type: interactive reply]"),
    ({"type": "location", "location": {"latitude": [1], "longitude": 2, "name": 3}},
     "[location] (None, 2)"),
    ({"type": "edit", "edit": {"message": {"type": "edit", "edit": {"message": {
        "type": "text", "text": {"body": "deep"}}}}}}, "[edited] [unsupported message type: edit]"),
    ({"type": "image", "image": {"caption": ["x"], "filename": 5, "voice": "yes"}}, "[image]"),
    ({"type": "contacts", "contacts": [{"name": "Sam"}, 4]}, "[contacts] "),
    ({"type": "order", "order": {"product_items": [{"quantity": {}, "product_retailer_id": 1}]}},
     "[order] None x None"),
])
def test_optional_fields_of_the_wrong_type_are_ignored(fields, text):
    payload = meta_payload(**fields, context="x", errors=3)
    payload["entry"][0]["changes"][0]["value"].update(metadata=[], contacts={"a": 1})
    (message,) = meta.parse_webhook(payload).messages
    assert message.text == text and isinstance(message.text, str)


def test_lone_surrogates_and_nul_are_repaired_when_loading_a_signed_body():
    body = json.dumps(meta_payload(text={"body": "a\x00b\ud800c"})).encode()
    assert b"\\ud800" in body
    message = meta.parse_webhook(meta.load_json(body)).messages[0]
    assert message.text == "a\ufffdb\ufffdc"
    emoji = json.dumps(meta_payload(text={"body": "ok \U0001F600"})).encode()
    assert meta.parse_webhook(meta.load_json(emoji)).messages[0].text == "ok \U0001F600"


def test_the_model_refuses_what_a_parser_should_not_build():
    fields = dict(provider="meta", provider_message_id="wamid.1", conversation_id="44", phone="44",
                  business_scoped_user_id=None, profile_name=None, kind="text", text="hi",
                  sent_at=NOW, raw={})
    with pytest.raises(MalformedPayload):
        InboundMessage(**{**fields, "text": {"not": "text"}})
    with pytest.raises(MalformedPayload):
        InboundMessage(**{**fields, "provider_message_id": "x" * 1000})
    assert InboundMessage(**fields).sent_at - NOW == timedelta(0)


# --- Twilio ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "complaint"), [
    ({"WaId": "4" * 300}, "not a phone number"), ({"NumMedia": "9" * 5000}, "not a number"),
    ({"NumMedia": "\u00b2"}, "not a number"), ({"MessageSid": "SM" + "a" * 300}, "message id"),
    ({"WaId": "", "From": "whatsapp:"}, "no sender number"),
])
def test_malformed_twilio_forms(change, complaint):
    with pytest.raises(MalformedPayload, match=complaint):
        twilio.parse_form(dict(load_fixture("twilio/text.form"), **change))


def test_twilio_status_with_a_garbage_recipient_still_settles_by_sid():
    form = dict(load_fixture("twilio/status_delivered.form"), To="whatsapp:+" + "9" * 500)
    (status,) = twilio.parse_form(form).statuses
    assert status.recipient is None and status.provider_message_id == form["MessageSid"]


# --- every field of every fixture, swapped for junk --------------------------------------------

JUNK = [None, 7, -1, True, 1e308, "", "\u00b2", "9" * 5000, "x" * 5000, [], [None], {}, {"a": []}]


def _paths(value, path=()):
    yield path
    children = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, child in children:
        yield from _paths(child, (*path, key))


def _replaced(payload, path, junk):
    copied = copy.deepcopy(payload)
    parent = copied
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = junk
    return copied


def _mutations(provider: str):
    from tests.channels_helpers import fixture_names
    for name in fixture_names(provider):
        payload = load_fixture(name)
        for path in list(_paths(payload))[1:]:
            for junk in JUNK:
                if provider == "meta" or isinstance(junk, str):  # a form holds strings only
                    yield name, path, _replaced(payload, path, junk)


@pytest.mark.parametrize("provider", ["meta", "twilio"])
def test_junk_in_any_field_is_parsed_or_malformed_never_a_crash(provider):
    tried = 0
    for name, path, payload in _mutations(provider):
        tried += 1
        try:
            batch = (meta.parse_webhook(payload, received_at=NOW) if provider == "meta"
                     else twilio.parse_form(payload, received_at=NOW))
        except MalformedPayload:
            continue
        except Exception as error:  # noqa: BLE001 - the failure names the mutation
            pytest.fail(f"{name} with {path} replaced: {type(error).__name__}: {error}")
        for message in batch.messages:
            assert isinstance(message.text, str) and len(message.text) <= MAX_TEXT_CHARS
            assert message.sent_at <= NOW and isinstance(message.conversation_id, str)
            json.dumps(message.raw, allow_nan=False)
        for status in batch.statuses:
            assert status.at <= NOW and isinstance(status.provider_message_id, str)
    assert tried > 300
