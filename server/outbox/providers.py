"""Which providers this deployment sends through, built from the settings: the one place that
decides it. A provider left out has its queued messages failed, with the reason below, and
shown to agents (worker + problems.py): nothing waits for a sender that will never come."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from graph.base.settings import Settings
from server.demo_mode import is_loopback, url_host
from server.outbox.senders import CloudApiSender, Sender
from server.outbox.twilio_sender import TwilioSender

log = logging.getLogger("server.outbox")
NO_SENDER = {
    "meta": "no sender is configured for Meta's Cloud API",
    "twilio": "Twilio is not configured for sending: set TWILIO__ACCOUNT_SID, TWILIO__AUTH_TOKEN"
              " and TWILIO__FROM_NUMBER (and an https TWILIO__API_BASE_URL)",
}
"""Why a message of each provider could not be sent when that provider has no sender."""


def twilio_status_callback_url(settings: Settings, public_url: str) -> str:
    """Our Twilio webhook as Twilio calls it: TWILIO__PUBLIC_URL, else on PUBLIC_URL."""
    return settings.twilio.public_url or f"{public_url.rstrip('/')}/webhooks/twilio"


def senders_from(settings: Settings, *, graph_url: str, public_url: str) -> dict[str, Sender]:
    """A sender per provider that can send: Meta's Cloud API always (Meta's own, or the fake
    one the simulator mounts at `graph_url`), Twilio when its account SID, auth token and
    WhatsApp sender number are all set and its API is https (or on this machine): the auth
    token goes with every send, never in clear over a network."""
    timeout_s = settings.outbox.send_timeout_s
    senders: dict[str, Sender] = {"meta": CloudApiSender(
        base_url=graph_url, api_version=settings.meta.api_version,
        phone_number_id=settings.meta.phone_number_id,
        access_token=settings.meta.access_token.get_secret_value(), timeout_s=timeout_s)}
    twilio = settings.twilio
    token = twilio.auth_token.get_secret_value() if twilio.auth_token else ""
    if twilio.account_sid and token and twilio.from_number:
        if not secure_api(twilio.api_base_url):
            log.error("TWILIO__API_BASE_URL is not https: Twilio replies are not sent (they fail,"
                      " and agents see them)")
            return senders
        senders["twilio"] = TwilioSender(
            account_sid=twilio.account_sid, auth_token=token, from_number=twilio.from_number,
            base_url=twilio.api_base_url, content_sids=twilio.content_sids, timeout_s=timeout_s,
            status_callback_url=twilio_status_callback_url(settings, public_url))
    return senders


def secure_api(url: str) -> bool:
    """Whether a provider API URL uses HTTPS (or is local), so tokens never travel in clear."""
    try:
        scheme = urlsplit(url.strip()).scheme
    except ValueError:
        return False
    return scheme == "https" or (scheme == "http" and is_loopback(url_host(url)))


def no_sender_reason(provider: str) -> str:
    """Why no sender exists for a provider, in words an operator can act on."""
    return NO_SENDER.get(provider, f"no sender is configured for {provider}")
