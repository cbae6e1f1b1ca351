import copy
import dataclasses
import json
from datetime import UTC, datetime

import pytest

from server.channels import meta
from server.channels.models import MalformedPayload
from tests.channels_helpers import fixture_names, load_fixture, sign_meta

PRIYA, TOM, BUSINESS = "447700900123", "447700900456", "113269274970227"
BSUID = "GB.13491208655302741918"

# fixture: (kind, text, conversation_id, sent_at, needs_turn)
MESSAGES = {
    "text": ("text", "Hi, my order #10482 hasn't arrived yet", PRIYA, "09:33:21", True),
    "image": ("image", "[image] The corner of the table arrived cracked", PRIYA, "09:34:20", True),
    "audio": ("audio", "[audio]", PRIYA, "09:35:20", True),
    "voice": ("voice", "[voice]", PRIYA, "09:36:20", True),
    "video": ("video", "[video]", PRIYA, "09:37:20", True),
    "document": ("document", "[document: invoice-10482.pdf]", PRIYA, "09:38:20", True),
    "sticker": ("sticker", "[sticker]", PRIYA, "09:39:20", True),
    "location": ("location", "[location] Tower Bridge Showroom, 2 Tower Bridge Rd, London SE1 2UP"
                 " (51.5033635, -0.0753775)", PRIYA, "09:40:20", True),
    "contacts": ("contacts", "[contacts] Sam Shah, Dev", PRIYA, "09:41:20", True),
    "interactive_button_reply": ("interactive", "Track my order", PRIYA, "09:42:20", True),
    "interactive_list_reply": ("interactive", "Returns & refunds", PRIYA, "09:43:20", True),
    "interactive_nfm_reply": ("interactive", '[form] {"flow_token": "return-10482", "reason":'
                              ' "damaged", "order_number": "10482"}', PRIYA, "09:44:20", True),
    "button": ("button", "Reschedule delivery", PRIYA, "09:45:20", True),
    "reaction": ("reaction", "[reaction] 👍", PRIYA, "09:46:20", False),
    "reaction_removed": ("reaction", "[reaction removed]", PRIYA, "09:47:20", False),
    "unsupported": ("unsupported", "[unsupported message type: poll]", PRIYA, "09:48:20", True),
    "reply_with_context": ("text", "Yes, Thursday works for me", PRIYA, "09:49:20", True),
    "referral": ("text", "Is the oak sideboard still on sale?", PRIYA, "09:50:20", True),
    "order": ("order", "[order] 1 x OAK-SIDEBOARD-180, 2 x FELT-PADS-8 (Please deliver after 5pm)",
              PRIYA, "09:51:20", True),
    "system": ("system", "User Priya Shah changed from 447700900123 to 447700900789", PRIYA,
               "09:52:20", False),
    "username_only": ("text", "Hello, can I change my delivery address?", f"bsuid:{BSUID}",
                      "09:53:20", True),
    "edit": ("edit", "[edited] Hi, my order #10483 hasn't arrived yet", PRIYA, "09:54:20", True),
    "revoke": ("revoke", "[deleted a message]", PRIYA, "09:55:20", False),
    "unknown_type": ("unsupported", "[unsupported message type: poll]", PRIYA, "09:56:20", True),
    "value_errors": ("unsupported", "[unsupported message type: interactive reply]", PRIYA,
                     "09:57:20", True),
}
# fixture: (status, recipient, at, error codes, has billing)
STATUSES = {
    "status_sent": ("sent", PRIYA, "09:58:20", (), True),
    "status_delivered": ("delivered", PRIYA, "09:58:23", (), True),
    "status_read": ("read", PRIYA, "09:59:21", (), False),
    "status_failed": ("failed", PRIYA, "10:00:20", (131047,), False),
    "status_played": ("played", PRIYA, "10:01:20", (), False),
}
OTHERS = {"batch_multi_entry", "non_message_field"}


def at(clock: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-22T{clock}+00:00")


def parse(name: str):
    return meta.parse_webhook(load_fixture(f"meta/{name}"))


def only_message(name: str):
    batch = parse(name)
    assert (len(batch.messages), batch.statuses, batch.ignored) == (1, (), ())
    return batch.messages[0]


def test_every_fixture_has_an_expectation():
    assert {n.removeprefix("meta/") for n in fixture_names("meta")} == (
        set(MESSAGES) | set(STATUSES) | OTHERS)


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_message_fixtures(name):
    kind, text, key, clock, needs_turn = MESSAGES[name]
    message = only_message(name)
    raw = load_fixture(f"meta/{name}")["entry"][0]["changes"][0]["value"]["messages"][0]
    assert (message.kind, message.text, message.conversation_id) == (kind, text, key)
    assert message.sent_at == at(clock) and message.sent_at.tzinfo is UTC
    assert message.needs_turn is needs_turn
    assert message.provider == "meta" and message.provider_message_id == raw["id"]
    assert message.provider_message_id.startswith("wamid.HBg")
    assert message.business_phone_number_id == BUSINESS and message.raw == raw


@pytest.mark.parametrize("name", sorted(STATUSES))
def test_status_fixtures(name):
    status_name, recipient, clock, codes, has_billing = STATUSES[name]
    batch = parse(name)
    assert (batch.messages, batch.ignored, len(batch.statuses)) == ((), (), 1)
    status = batch.statuses[0]
    raw = load_fixture(f"meta/{name}")["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert (status.status, status.recipient, status.at) == (status_name, recipient, at(clock))
    assert tuple(e["code"] for e in status.errors) == codes
    assert (status.billing is not None) is has_billing
    assert status.provider_message_id == raw["id"] and status.business_phone_number_id == BUSINESS


def test_failed_status_keeps_error_title_and_details():
    (error,) = parse("status_failed").statuses[0].errors
    assert error["title"] == "Re-engagement message"
    assert error["details"].startswith("Message failed to send because more than 24 hours")


def test_sent_status_billing_carries_conversation_and_pricing():
    billing = parse("status_sent").statuses[0].billing
    assert billing["conversation"]["origin"]["type"] == "service"
    assert billing["pricing"]["category"] == "service"


def test_sender_identity_phone_bsuid_and_profile():
    text = only_message("text")
    assert (text.phone, text.business_scoped_user_id) == (PRIYA, "GB.1502576394655843")
    assert (text.profile_name, text.username) == ("Priya Shah", None)
    legacy = only_message("image")  # no user_id before the business-scoped id rollout
    assert (legacy.phone, legacy.business_scoped_user_id) == (PRIYA, None)


def test_username_only_customer_has_no_phone():
    message = only_message("username_only")
    assert message.phone is None and message.business_scoped_user_id == BSUID
    assert (message.profile_name, message.username) == ("Marta", "@marta.k")


def test_bsuid_from_contact_when_message_names_no_sender():
    payload = load_fixture("meta/username_only")
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["from_user_id"]
    (message,) = meta.parse_webhook(payload).messages
    assert message.conversation_id == f"bsuid:{BSUID}" and message.username == "@marta.k"


def test_media_fields():
    image = only_message("image").media
    assert image["id"] == "1479536226449271" and image["mime_type"] == "image/jpeg"
    assert image["url"].startswith("https://lookaside.fbsbx.com/") and image["voice"] is False
    assert image["sha256"]
    assert only_message("voice").media["voice"] is True
    assert only_message("audio").media["voice"] is False
    assert only_message("document").media["filename"] == "invoice-10482.pdf"
    assert only_message("text").media is None


def test_reactions_and_their_removal():
    reacted = only_message("reaction").reaction
    removed = only_message("reaction_removed").reaction
    target = load_fixture("meta/reaction")["entry"][0]["changes"][0]["value"]["messages"][0]
    assert reacted == {"message_id": target["reaction"]["message_id"], "emoji": "👍"}
    assert removed == {"message_id": reacted["message_id"], "emoji": None}


def test_empty_emoji_is_a_removal_too():
    payload = load_fixture("meta/reaction")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["emoji"] = ""
    (message,) = meta.parse_webhook(payload).messages
    assert message.reaction["emoji"] is None and message.text == "[reaction removed]"


def test_replies_carry_the_context_id():
    raw = load_fixture("meta/reply_with_context")["entry"][0]["changes"][0]["value"]["messages"][0]
    assert only_message("reply_with_context").reply_to == raw["context"]["id"]
    assert only_message("button").reply_to.startswith("wamid.")
    assert only_message("text").reply_to is None


def test_edits_and_revokes_point_at_the_original():
    edit = load_fixture("meta/edit")["entry"][0]["changes"][0]["value"]["messages"][0]
    assert only_message("edit").reply_to == edit["edit"]["original_message_id"]
    assert only_message("revoke").reply_to is not None


def test_referral_from_click_to_whatsapp_ad():
    referral = only_message("referral").referral
    assert referral["source_type"] == "ad" and referral["source_id"] == "120210543219870415"
    assert referral["ctwa_clid"].startswith("ARAkLkA8") and referral["headline"].startswith("Oak")
    assert only_message("text").referral is None


def test_unsupported_keeps_its_errors():
    (error,) = only_message("unsupported").errors
    assert error == {"code": 131051, "title": "Message type unknown",
                     "message": "Message type unknown",
                     "details": "Message type is currently not supported."}


def test_value_level_errors_belong_to_the_messages():
    (error,) = only_message("value_errors").errors
    assert (error["code"], error["details"]) == (131000, "Unsupported webhook payload")


def test_unsupported_without_subtype():
    payload = load_fixture("meta/unsupported")
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["unsupported"]
    (message,) = meta.parse_webhook(payload).messages
    assert message.text == "[unsupported message type: unknown]" and message.needs_turn


def test_batch_with_several_entries_and_changes():
    batch = parse("batch_multi_entry")
    assert [(m.conversation_id, m.kind, m.profile_name, m.business_phone_number_id)
            for m in batch.messages] == [
        (PRIYA, "text", "Priya Shah", BUSINESS),
        (TOM, "text", "Tom Okafor", BUSINESS),
        (TOM, "reaction", "Tom Okafor", "120945781263548"),
    ]
    assert [(s.status, s.recipient) for s in batch.statuses] == [
        ("delivered", PRIYA), ("read", PRIYA), ("sent", TOM)]
    assert batch.ignored == ("entry[1].changes[1]: field 'account_update'",)
    assert [m.needs_turn for m in batch.messages] == [True, True, False]


def test_other_webhook_fields_are_ignored():
    batch = parse("non_message_field")
    assert (batch.messages, batch.statuses) == ((), ())
    assert batch.ignored == ("entry[0].changes[0]: field 'message_template_status_update'",)


def test_value_with_only_errors_is_described_in_ignored():
    payload = load_fixture("meta/value_errors")
    del payload["entry"][0]["changes"][0]["value"]["messages"]
    assert meta.parse_webhook(payload).ignored == (
        "entry[0].changes[0].value: errors 131000 Something went wrong",)


def test_unknown_status_is_ignored_not_fatal():
    payload = load_fixture("meta/status_read")
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] = "teleported"
    batch = meta.parse_webhook(payload)
    assert batch.statuses == ()
    assert batch.ignored == ("entry[0].changes[0].value.statuses[0]: unknown status 'teleported'",)


def test_status_for_a_username_only_recipient():
    payload = load_fixture("meta/status_read")
    status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    del status["recipient_id"]
    status["recipient_user_id"] = BSUID
    assert meta.parse_webhook(payload).statuses[0].recipient == f"bsuid:{BSUID}"


def test_models_are_frozen():
    message = only_message("text")
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.text = "changed"  # type: ignore[misc]


# --- malformed payloads ---------------------------------------------------------------------

def _breaking(mutate):
    payload = copy.deepcopy(load_fixture("meta/text"))
    mutate(payload)
    return payload


def _first_message(payload):
    return payload["entry"][0]["changes"][0]["value"]["messages"][0]


@pytest.mark.parametrize(("payload", "complaint"), [
    ([], "payload must be a JSON object, not list"),
    ({"object": "page", "entry": []}, "object is 'page', expected 'whatsapp_business_account'"),
    ({"object": "whatsapp_business_account"}, "payload.entry must be a list, not NoneType"),
    ({"object": "whatsapp_business_account", "entry": {}}, "payload.entry must be a list, not dict"),
    ({"object": "whatsapp_business_account", "entry": ["x"]}, "entry[0] must be an object"),
    (_breaking(lambda p: p["entry"][0].update(changes="x")), "entry[0].changes must be a list"),
    (_breaking(lambda p: p["entry"][0]["changes"][0].update(value=None)),
     "entry[0].changes[0].value must be an object"),
    (_breaking(lambda p: p["entry"][0]["changes"][0]["value"].update(messages={})),
     "entry[0].changes[0].value.messages must be a list"),
    (_breaking(lambda p: _first_message(p).pop("id")),
     "entry[0].changes[0].value.messages[0] is missing 'id'"),
    (_breaking(lambda p: _first_message(p).pop("timestamp")), "is missing 'timestamp'"),
    (_breaking(lambda p: _first_message(p).pop("type")), "is missing 'type'"),
    (_breaking(lambda p: _first_message(p).update(timestamp="yesterday")),
     "timestamp 'yesterday' is not unix seconds"),
])
def test_malformed_payloads_say_what_is_wrong(payload, complaint):
    with pytest.raises(MalformedPayload) as raised:
        meta.parse_webhook(payload)
    assert complaint in str(raised.value)


def test_message_without_any_sender_is_malformed():
    def strip(payload):
        _first_message(payload).pop("from")
        _first_message(payload).pop("from_user_id")
        payload["entry"][0]["changes"][0]["value"]["contacts"] = []
    with pytest.raises(MalformedPayload, match=r"messages\[0\] has no sender"):
        meta.parse_webhook(_breaking(strip))


def test_status_missing_id_is_malformed():
    payload = load_fixture("meta/status_sent")
    del payload["entry"][0]["changes"][0]["value"]["statuses"][0]["id"]
    with pytest.raises(MalformedPayload, match=r"statuses\[0\] is missing 'id'"):
        meta.parse_webhook(payload)


def test_malformed_payload_is_a_value_error():
    assert issubclass(MalformedPayload, ValueError)


# --- signatures and the subscription handshake ---------------------------------------------

SECRET = "7c1e0f3b9a2d4e6f8a0b1c2d3e4f5a6b"
BODY = json.dumps(load_fixture("meta/text")).encode()


def test_valid_signature_over_the_exact_body():
    assert meta.verify_signature(SECRET, BODY, sign_meta(BODY, SECRET))
    assert meta.verify_signature(SECRET, BODY, sign_meta(BODY, SECRET).upper().replace(
        "SHA256=", "sha256="))


@pytest.mark.parametrize(("secret", "body", "header"), [
    ("another-secret", BODY, sign_meta(BODY, SECRET)),
    (SECRET, BODY + b" ", sign_meta(BODY, SECRET)),
    (SECRET, BODY.replace(b"10482", b"10483"), sign_meta(BODY, SECRET)),
    ("", BODY, sign_meta(BODY, "")),
], ids=["wrong-secret", "extra-byte", "tampered-body", "empty-secret"])
def test_invalid_signatures(secret, body, header):
    assert not meta.verify_signature(secret, body, header)


@pytest.mark.parametrize("header", [
    None, "", "sha256=", "sha1=" + "a" * 40, sign_meta(BODY, SECRET).removeprefix("sha256="),
    "sha256=" + "z" * 64, sign_meta(BODY, SECRET)[:-2], "sha256=ünïcödé", "sha256 = abc",
])
def test_missing_or_malformed_signature_header(header):
    assert meta.verify_signature(SECRET, BODY, header) is False


def test_a_signed_fixture_parses_end_to_end():
    body = json.dumps(load_fixture("meta/batch_multi_entry")).encode()
    assert meta.verify_signature(SECRET, body, sign_meta(body, SECRET))
    assert len(meta.parse_webhook(json.loads(body)).messages) == 3


def _hub(mode="subscribe", token="s3cret-verify", challenge="1158201444"):
    params = {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}
    return {k: v for k, v in params.items() if v is not None}


def test_subscription_echoes_the_challenge():
    assert meta.verify_subscription(_hub(), "s3cret-verify") == "1158201444"


@pytest.mark.parametrize(("params", "configured"), [
    (_hub(token="wrong"), "s3cret-verify"),
    (_hub(mode="unsubscribe"), "s3cret-verify"),
    (_hub(challenge=None), "s3cret-verify"),
    (_hub(token=None), "s3cret-verify"),
    (_hub(token=""), ""),
    (_hub(token="tökén"), "s3cret-verify"),
    ({}, "s3cret-verify"),
], ids=["wrong-token", "wrong-mode", "no-challenge", "no-token", "nothing-configured",
        "non-ascii-token", "no-params"])
def test_subscription_refused(params, configured):
    assert meta.verify_subscription(params, configured) is None


def test_non_string_type_is_malformed_not_a_crash():
    payload = _breaking(lambda p: _first_message(p).update(type={"nested": True}))
    with pytest.raises(MalformedPayload, match=r"messages\[0\].type must be a string, not dict"):
        meta.parse_webhook(payload)


def test_single_contact_names_the_sender_even_if_its_wa_id_differs():
    payload = load_fixture("meta/image")
    payload["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = "4407700900123"
    (message,) = meta.parse_webhook(payload).messages
    assert (message.conversation_id, message.profile_name) == (PRIYA, "Priya Shah")


def test_nul_characters_are_replaced_so_the_message_can_be_stored():
    payload = load_fixture("meta/text")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "order\x00 10482"
    raw_body = json.dumps(payload).encode()
    assert b"\\u0000" in raw_body
    message = meta.parse_webhook(meta.load_json(raw_body)).messages[0]
    assert message.text == "order\ufffd 10482"
    assert "\x00" not in json.dumps(message.raw) and "\\u0000" not in json.dumps(message.raw)
