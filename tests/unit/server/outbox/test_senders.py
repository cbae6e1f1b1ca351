"""Which refused sends are worth a retry: per provider, by HTTP status and error code."""

from __future__ import annotations

import pytest

from server.outbox import NotSendable, SendError, SendOutcomeUnknown, SendUnreachable, is_retryable


@pytest.mark.parametrize(("provider", "code", "http_status"), [
    ("meta", 130429, 400), ("meta", 131056, 400), ("meta", 131000, 500), ("meta", None, 503),
    ("meta", None, 429), ("meta", 80007, 400), ("twilio", 20429, 429), ("twilio", 21611, 400),
    ("twilio", 20503, 503), ("twilio", None, 502),
])
def test_transient_errors_are_retried(provider, code, http_status):
    assert is_retryable(SendError(code, http_status, "busy", provider=provider))


@pytest.mark.parametrize(("provider", "code", "http_status"), [
    ("meta", 131047, 400), ("meta", 131050, 400), ("meta", 100, 400), ("meta", None, 404),
    ("meta", 131026, 500),  # a permanent code stays permanent even with a 5xx
    ("twilio", 21211, 400), ("twilio", 21610, 400), ("twilio", 20003, 401), ("twilio", None, 400),
    ("twilio", 63016, 500),
])
def test_permanent_errors_are_not(provider, code, http_status):
    assert not is_retryable(SendError(code, http_status, "no", provider=provider))


def test_codes_are_read_as_their_providers_codes():
    # 80007 is Meta's rate limit; from Twilio it means nothing here: a 4xx fails.
    assert is_retryable(SendError(80007, 400, "rate", provider="meta"))
    assert not is_retryable(SendError(80007, 400, "?", provider="twilio"))


def test_connection_never_made_is_retried_and_unsendable_is_not():
    assert is_retryable(SendUnreachable(None, None, "ConnectError"))
    assert not is_retryable(NotSendable("no Content SID", provider="twilio"))
    error = NotSendable("no Twilio Content SID is configured for template 'x'", provider="twilio")
    assert str(error) == "no Twilio Content SID is configured for template 'x'"
    assert error.as_record()["kind"] == "NotSendable"
    assert isinstance(SendOutcomeUnknown(None, None, "ReadTimeout"), SendError)
