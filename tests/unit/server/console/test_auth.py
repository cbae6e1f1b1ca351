"""Password hashing, tokens and CSRF comparison of the console."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.console import auth
from server.console.routes import _safe_next, sla_text


def test_hash_has_the_documented_format_and_a_random_salt():
    first, second = auth.hash_password("correct horse"), auth.hash_password("correct horse")
    scheme, n, r, p, salt, digest = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert salt and digest and first != second
    assert "correct horse" not in first


def test_verify_accepts_the_password_and_rejects_others():
    encoded = auth.hash_password("s3cret!", n=2**10)
    assert auth.verify_password("s3cret!", encoded)
    assert not auth.verify_password("s3cret", encoded)
    assert not auth.verify_password("", encoded)


@pytest.mark.parametrize("encoded", ["", "plain", "bcrypt$1$2$3$4$5", "scrypt$x$8$1$AAAA$AAAA",
                                     "scrypt$1024$8$1$not-base64!$AAAA"])
def test_verify_is_false_for_malformed_hashes(encoded):
    assert auth.verify_password("anything", encoded) is False


def test_empty_password_is_refused():
    with pytest.raises(ValueError):
        auth.hash_password("")


def test_tokens_are_random_and_only_their_hash_is_stored():
    token = auth.new_token()
    assert len(token) >= 40 and token != auth.new_token()
    assert auth.token_hash(token) == auth.token_hash(token) and len(auth.token_hash(token)) == 64
    assert token not in auth.token_hash(token)


def test_csrf_comparison():
    token = auth.new_token()
    assert auth.csrf_matches(token, token)
    assert not auth.csrf_matches(token, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not auth.csrf_matches(token, None) and not auth.csrf_matches(token, "")
    assert not auth.csrf_matches(None, None) and not auth.csrf_matches("", "")


def test_sla_text_counts_down_and_reports_breaches():
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert sla_text(now + timedelta(minutes=12, seconds=3), now) == "12m 03s left"
    assert sla_text(now + timedelta(hours=2, minutes=5), now) == "2h 05m 00s left"
    assert sla_text(now - timedelta(minutes=4), now) == "breached 4m 00s ago"
    assert sla_text(None) == "no SLA"


def test_redirect_after_login_stays_in_the_console():
    assert _safe_next("/console/c/123") == "/console/c/123"
    assert _safe_next("https://evil.example/") == "/console"
    assert _safe_next("//evil.example") == "/console"
    assert _safe_next("/console/login") == "/console"
    assert _safe_next(None) == "/console" and _safe_next("/console.evil.example") == "/console"
