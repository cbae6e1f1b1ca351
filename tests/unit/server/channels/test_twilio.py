from datetime import UTC, datetime, timedelta

import pytest
from twilio.request_validator import RequestValidator

from server.channels import twilio
from server.channels.models import MalformedPayload
from tests.channels_helpers import fixture_names, load_fixture, sign_twilio

PRIYA, BUSINESS = "447700900123", "14155238886"
RECEIVED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

# fixture: (kind, text)
MESSAGES = {
    "text.form": ("text", "Hi, where is my order #10482?"),
    "media.form": ("image", "[image] Here is the damaged corner"),
    "location.form": ("location", "[location] Tower Bridge Showroom, 2 Tower Bridge Rd,"
                      " London SE1 2UP (51.5033635, -0.0753775)"),
    "button_reply.form": ("button", "Reschedule delivery"),
}
# fixture: (status, error codes)
STATUSES = {"status_delivered.form": ("delivered", ()), "status_failed.form": ("failed", (63016,))}


def parse(form, **kwargs):
    return twilio.parse_form(form, received_at=RECEIVED, **kwargs)


def only_message(form):
    batch = parse(form)
    assert (len(batch.messages), batch.statuses, batch.ignored) == (1, (), ())
    return batch.messages[0]


def test_every_fixture_has_an_expectation():
    assert {n.removeprefix("twilio/") for n in fixture_names("twilio")} == (
        set(MESSAGES) | set(STATUSES))


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_message_fixtures(name):
    form = load_fixture(f"twilio/{name}")
    message = only_message(form)
    assert (message.kind, message.text) == MESSAGES[name]
    assert (message.conversation_id, message.phone, message.profile_name) == (
        PRIYA, PRIYA, "Priya Shah")
    assert message.provider == "twilio" and message.provider_message_id == form["MessageSid"]
    assert message.sent_at == RECEIVED and message.business_phone_number_id == BUSINESS
    assert message.business_scoped_user_id is None and message.needs_turn
    assert message.raw == form


@pytest.mark.parametrize("name", sorted(STATUSES))
def test_status_fixtures(name):
    form = load_fixture(f"twilio/{name}")
    batch = parse(form)
    assert (batch.messages, batch.ignored, len(batch.statuses)) == ((), (), 1)
    status = batch.statuses[0]
    expected_status, codes = STATUSES[name]
    assert (status.status, status.recipient, status.at) == (expected_status, PRIYA, RECEIVED)
    assert tuple(e["code"] for e in status.errors) == codes
    assert status.provider_message_id == form["MessageSid"]
    assert status.business_phone_number_id == BUSINESS


def test_failed_status_keeps_the_error_message():
    (error,) = parse(load_fixture("twilio/status_failed.form")).statuses[0].errors
    assert error["code"] == 63016 and "outside the allowed window" in error["message"]
    assert error["title"] == twilio.ERROR_TITLES[63016]  # for agents when ErrorMessage is absent


@pytest.mark.parametrize(("status", "code", "title"), [
    ("undelivered", "63024", "Invalid message recipient"), ("failed", "99999", None),
    ("failed", "not-a-code", None)])
def test_error_codes_of_failed_callbacks(status, code, title):
    form = {**load_fixture("twilio/status_failed.form"), "MessageStatus": status, "ErrorCode": code}
    del form["ErrorMessage"]
    (error,) = parse(form).statuses[0].errors
    assert (error["code"], error["title"], error["message"]) == (
        int(code) if code.isdigit() else code, title, None)


def test_error_code_zero_is_no_error():
    form = {**load_fixture("twilio/status_delivered.form"), "ErrorCode": "0"}
    assert parse(form).statuses[0].errors == ()


def test_without_received_at_the_time_is_now_in_utc():
    before = datetime.now(UTC)
    message = twilio.parse_form(load_fixture("twilio/text.form")).messages[0]
    assert message.sent_at.tzinfo is UTC
    assert before <= message.sent_at <= before + timedelta(seconds=5)


def test_media_fields():
    form = load_fixture("twilio/media.form")
    media = only_message(form).media
    assert media["url"] == form["MediaUrl0"] and media["mime_type"] == "image/jpeg"
    assert media["id"] == form["MediaUrl0"].rsplit("/", 1)[-1] and media["id"].startswith("ME")
    assert media["voice"] is None and media["sha256"] is None


@pytest.mark.parametrize(("mime", "message_type", "kind"), [
    ("audio/ogg", "audio", "audio"), ("video/mp4", "video", "video"),
    ("application/pdf", "document", "document"), ("image/webp", "sticker", "sticker"),
    ("audio/mpeg", "", "audio"), ("text/vcard", "", "document"),
])
def test_media_kinds(mime, message_type, kind):
    form = dict(load_fixture("twilio/media.form"), MediaContentType0=mime,
                MessageType=message_type, Body="")
    message = only_message(form)
    assert (message.kind, message.text) == (kind, f"[{kind}]")


def test_button_reply_points_at_the_template():
    form = load_fixture("twilio/button_reply.form")
    assert only_message(form).reply_to == form["OriginalRepliedMessageSid"]
    assert only_message(load_fixture("twilio/text.form")).reply_to is None


def test_list_picker_reply():
    form = dict(load_fixture("twilio/text.form"), MessageType="interactive", Body="Returns",
                ListId="returns", ListTitle="Returns & refunds")
    assert (only_message(form).kind, only_message(form).text) == (
        "interactive", "Returns & refunds")


def test_referral_fields_use_meta_names():
    form = dict(load_fixture("twilio/text.form"), ReferralSourceUrl="https://fb.me/8fXq2LmR1",
                ReferralSourceType="ad", ReferralSourceId="120210543219870415",
                ReferralHeadline="Oak sideboard: 30% off", ReferralCtwaClid="ARAkLkA8rmlF")
    assert only_message(form).referral == {
        "source_url": "https://fb.me/8fXq2LmR1", "source_type": "ad",
        "source_id": "120210543219870415", "headline": "Oak sideboard: 30% off",
        "ctwa_clid": "ARAkLkA8rmlF"}
    assert only_message(load_fixture("twilio/text.form")).referral is None


def test_number_from_the_from_address_when_waid_is_absent():
    form = load_fixture("twilio/text.form")
    del form["WaId"]
    assert only_message(form).conversation_id == PRIYA


def test_unknown_message_type_without_body_is_unsupported():
    form = dict(load_fixture("twilio/text.form"), MessageType="poll", Body="")
    message = only_message(form)
    assert (message.kind, message.text) == ("unsupported", "[unsupported message type: poll]")
    assert message.needs_turn


def test_sms_on_the_same_number_is_ignored():
    form = dict(load_fixture("twilio/text.form"), From="+447700900123")
    batch = parse(form)
    assert batch.messages == ()
    assert batch.ignored == (f"{form['MessageSid']}: From is not a whatsapp: address",)


def test_unknown_status_is_ignored():
    form = dict(load_fixture("twilio/status_delivered.form"), MessageStatus="teleported")
    assert parse(form).ignored == (f"{form['MessageSid']}: unknown status 'teleported'",)


@pytest.mark.parametrize(("change", "complaint"), [
    ({"MessageSid": None}, "form is missing 'MessageSid'"),
    ({"From": None}, "is missing 'From'"),
    ({"NumMedia": "one"}, "NumMedia 'one' is not a number"),
])
def test_malformed_forms(change, complaint):
    form = load_fixture("twilio/text.form")
    for key, value in change.items():
        form.pop(key) if value is None else form.update({key: value})
    with pytest.raises(MalformedPayload, match=complaint):
        parse(form)


def test_a_form_must_be_a_mapping():
    with pytest.raises(MalformedPayload, match="form must be a mapping, not list"):
        twilio.parse_form([("MessageSid", "SM1")])  # type: ignore[arg-type]


# --- signatures ------------------------------------------------------------------------------

TOKEN = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
URL = "https://switchboard.example.com/webhooks/twilio"


def test_valid_signature_computed_by_twilios_validator():
    form = load_fixture("twilio/text.form")
    header = RequestValidator(TOKEN).compute_signature(URL, form)
    assert header == sign_twilio(URL, form, TOKEN)
    assert twilio.verify_signature(TOKEN, URL, form, header)


@pytest.mark.parametrize(("token", "url", "change", "header"), [
    ("0" * 32, URL, {}, None),
    (TOKEN, URL + "?x=1", {}, None),
    (TOKEN, URL, {"Body": "Refund me everything"}, None),
    (TOKEN, URL, {}, ""),
    (TOKEN, URL, {}, "bm90LWEtc2lnbmF0dXJl"),
    ("", URL, {}, None),
], ids=["wrong-token", "other-url", "tampered-form", "missing-header", "garbage-header",
        "empty-token"])
def test_invalid_signatures(token, url, change, header):
    form = load_fixture("twilio/text.form")
    signed = sign_twilio(URL, form, TOKEN) if header is None else header
    assert twilio.verify_signature(token, url, dict(form, **change), signed) is False


def test_missing_header_is_false():
    assert twilio.verify_signature(TOKEN, URL, load_fixture("twilio/text.form"), None) is False


def test_nul_characters_are_replaced_so_the_message_can_be_stored():
    form = {**load_fixture("twilio/text.form"), "Body": "order\x00 10482"}
    message = only_message(form)
    assert message.text == "order\ufffd 10482" and "\x00" not in str(message.raw)
