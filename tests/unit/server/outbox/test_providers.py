"""Senders are built from the settings: Meta always, Twilio only when it can send."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from graph.base.settings import Settings, TwilioSettings
from server.outbox import CloudApiSender, TwilioSender, senders_from
from server.outbox.providers import no_sender_reason

SID, FROM = "AC" + "1" * 32, "whatsapp:+14155238886"


def build(**twilio) -> dict:
    settings = Settings(_env_file=None, twilio=TwilioSettings(**twilio))
    return senders_from(settings, graph_url="http://127.0.0.1:9/fake-graph",
                        public_url="https://support.example.com/")


def test_without_twilio_only_meta_sends():
    senders = build()
    assert list(senders) == ["meta"] and isinstance(senders["meta"], CloudApiSender)


@pytest.mark.parametrize("missing", ["account_sid", "auth_token", "from_number"])
def test_twilio_needs_sid_token_and_sender(missing):
    complete = {"account_sid": SID, "auth_token": SecretStr("token"), "from_number": FROM}
    assert "twilio" not in build(**{**complete, missing: None})
    assert "twilio" not in build(**{**complete, "auth_token": SecretStr("")})
    assert "twilio" in build(**complete)


def test_twilio_sender_uses_the_configured_api_callback_and_templates():
    twilio = build(account_sid=SID, auth_token=SecretStr("token"), from_number="+14155238886",
                   api_base_url="http://127.0.0.1:8082/", content_sids={"order_update_v1": "HX" + "a" * 32})["twilio"]
    assert isinstance(twilio, TwilioSender)
    assert twilio.url == f"http://127.0.0.1:8082/2010-04-01/Accounts/{SID}/Messages.json"
    assert twilio.from_number == FROM
    assert twilio.status_callback(7) == "https://support.example.com/webhooks/twilio?outbox_id=7"
    assert twilio.content_sid("order_update_v1", "en") == "HX" + "a" * 32
    assert "token" not in repr(twilio)
    behind_proxy = build(account_sid=SID, auth_token=SecretStr("t"), from_number=FROM,
                         public_url="https://edge.example.com/hooks/twilio?env=prod")["twilio"]
    assert behind_proxy.status_callback(8) == "https://edge.example.com/hooks/twilio?env=prod&outbox_id=8"
    assert build(account_sid=SID, auth_token=SecretStr("t"), from_number=FROM)["twilio"].url.startswith(
        "https://api.twilio.com/2010-04-01/")


def test_twilio_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TWILIO__CONTENT_SIDS", '{"order_update_v1": "HX' + "b" * 32 + '"}')
    monkeypatch.setenv("TWILIO__API_BASE_URL", "http://127.0.0.1:8082")
    settings = Settings(_env_file=None)
    assert settings.twilio.content_sids == {"order_update_v1": "HX" + "b" * 32}
    assert settings.twilio.api_base_url == "http://127.0.0.1:8082"


def test_a_missing_sender_says_what_to_set():
    assert "TWILIO__ACCOUNT_SID" in no_sender_reason("twilio")
    assert no_sender_reason("carrier-pigeon") == "no sender is configured for carrier-pigeon"


@pytest.mark.parametrize("url", ["http://api.twilio.example", "http://10.0.0.5:8082", "ftp://127.0.0.1",
                                 "http://[::1"])
def test_the_auth_token_never_goes_in_clear_over_a_network(url):
    assert "twilio" not in build(account_sid=SID, auth_token=SecretStr("t"), from_number=FROM,
                                 api_base_url=url)
    assert "https" in no_sender_reason("twilio")
