"""Statuses that name the outbox row they report on: Meta's biz_opaque_callback_data and the
outbox_id of our Twilio status callback URL."""

import copy

import pytest

from server.channels import meta, twilio
from server.channels.models import StatusUpdate
from tests.channels_helpers import load_fixture


def meta_status(callback_data=None) -> StatusUpdate:
    payload = copy.deepcopy(load_fixture("meta/status_delivered"))
    status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    if callback_data is not None:
        status["biz_opaque_callback_data"] = callback_data
    [update] = meta.parse_webhook(payload).statuses
    return update


def test_meta_status_carries_the_outbox_id_it_was_sent_with():
    assert meta_status("1234").outbox_id == 1234
    assert meta_status().outbox_id is None


def test_twilio_status_carries_the_outbox_id_of_its_callback_url():
    form = load_fixture("twilio/status_delivered.form")
    [update] = twilio.parse_form(form, outbox_id="77").statuses
    assert (update.outbox_id, update.status) == (77, "delivered")
    assert twilio.parse_form(form).statuses[0].outbox_id is None


@pytest.mark.parametrize("data", ["", "abc", "12a", "-5", "１２", "9" * 19, '{"outbox": 5}', 42])
def test_anything_but_an_id_is_no_outbox_id(data):
    """Another sender on the same number may put its own data there; it names no row of ours."""
    assert meta_status(data).outbox_id is None
    assert StatusUpdate.outbox_id_from(data) is None


def test_an_inbound_message_form_ignores_the_query():
    [message] = twilio.parse_form(load_fixture("twilio/text.form"), outbox_id="5").messages
    assert message.text
