"""The demo-mode rule and the startup checks, on settings alone."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from graph.base.settings import MetaSettings, Settings, TwilioSettings
from server.demo_mode import channels, demo_mode, is_loopback
from server.startup_checks import StartupRefused, check_startup, describe


def settings(**overrides) -> Settings:
    return Settings(_env_file=None).model_copy(update=overrides)


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("LOCALHOST.", True), ("0.0.0.0", False), ("::", False), ("", False), (None, False),
    ("10.0.0.5", False), ("example.com", False), ("localhost.example.com", False),
    ("127.0.0.1.nip.io", False)])
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def test_defaults_are_the_demo():
    demo = demo_mode(settings())
    assert demo.on and "loopback" in demo.why
    assert not channels(settings()).any


@pytest.mark.parametrize(("overrides", "named"), [
    ({"meta": MetaSettings.model_construct(graph_url="https://graph.facebook.com")}, "META__GRAPH_URL"),
    ({"meta": MetaSettings.model_construct(app_secret=SecretStr("x"))}, "META__APP_SECRET"),
    ({"meta": MetaSettings.model_construct(phone_number_id="123")}, "META__PHONE_NUMBER_ID"),
    ({"twilio": TwilioSettings.model_construct(auth_token=SecretStr("t"))}, "TWILIO__AUTH_TOKEN"),
    ({"twilio": TwilioSettings.model_construct(account_sid="AC1")}, "TWILIO__ACCOUNT_SID"),
    ({"twilio": TwilioSettings.model_construct(from_number="whatsapp:+1")}, "TWILIO__FROM_NUMBER"),
])
def test_any_configured_channel_turns_demo_mode_off_even_when_forced(overrides, named):
    for mode in ("auto", "on"):
        demo = demo_mode(settings(demo_mode=mode, **overrides))
        assert not demo.on and named in demo.why


def test_demo_mode_follows_the_setting():
    assert not demo_mode(settings(demo_mode="off")).on
    assert not demo_mode(settings(public_url="https://demo.example")).on
    assert demo_mode(settings(demo_mode="on", host="0.0.0.0")).on
    assert "HOST 0.0.0.0" in demo_mode(settings(host="0.0.0.0")).why


def test_the_worker_is_not_refused_for_plain_http_it_does_not_serve():
    assert not check_startup(settings(host="0.0.0.0"), serves_http=False).on
    with pytest.raises(StartupRefused):
        check_startup(settings(host="0.0.0.0"))


def test_every_problem_is_on_the_one_line():
    unsafe = settings(meta=MetaSettings.model_construct(graph_url="https://graph.facebook.com"),
                      host="0.0.0.0")
    with pytest.raises(StartupRefused) as refused:
        check_startup(unsafe)
    assert len(refused.value.reasons) == 4  # three published Meta secrets and plain HTTP
    assert str(refused.value).count("refusing to start") == 1


def test_the_report_of_the_demo():
    lines = describe(settings(), demo_mode(settings()))
    assert lines[0] == "channels: simulator (fake Cloud API on this server)"
    assert "META__APP_SECRET default" in lines[-1] and "ROUTER__API_KEY unset" in lines[-1]
