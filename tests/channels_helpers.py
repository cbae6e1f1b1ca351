"""Helpers for channel and webhook-route tests: load provider fixtures, sign requests."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from twilio.request_validator import RequestValidator

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_names(provider: str) -> list[str]:
    """Every fixture of a provider as a `load_fixture` name, e.g. "meta/text"."""
    return sorted(f"{provider}/{p.name.removesuffix('.json')}"
                  for p in (FIXTURES / provider).glob("*.json"))


def load_fixture(name: str) -> dict:
    """A fixture under tests/fixtures: "meta/text", "twilio/text.form" (".json" optional)."""
    path = FIXTURES / name
    if path.suffix != ".json":
        path = path.with_name(path.name + ".json")
    return json.loads(path.read_text(encoding="utf-8"))


def sign_meta(body: bytes, secret: str) -> str:
    """The X-Hub-Signature-256 header Meta would send for this exact body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign_twilio(url: str, form: dict[str, str], auth_token: str) -> str:
    """The X-Twilio-Signature header Twilio would send for this URL and form."""
    return RequestValidator(auth_token).compute_signature(url, form)
