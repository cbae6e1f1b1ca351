"""Alerts for the desk's supervisors: a Slack incoming webhook (or anything that accepts its JSON).

The webhook URL is a secret (whoever has it can post to the channel): it is kept in a SecretStr,
never logged, and redacted from httpx's own request log line. A failed post is logged and
reported as False, never raised, so the escalation watcher keeps going and retries later.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import httpx
from pydantic import SecretStr

from graph.base.pii import redact
from server import conversation_ids

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    """A conversation about to breach its first-response target with nobody on it. `key` is
    internal: the alert and the log name the conversation by its opaque ref."""

    key: str
    customer: str | None
    priority: str
    reason: str | None
    team: str
    due_at: datetime
    minutes_to_breach: float
    tier: str | None = None
    topic: str | None = None


class Notifier(Protocol):
    """Where SLA alerts go (a webhook, the log)."""

    async def send(self, alert: Alert) -> bool:
        """Deliver the alert; True when delivered (or deliberately dropped), False to retry."""
        ...


class _RedactSecrets(logging.Filter):
    """Replaces registered secret URLs in the arguments of httpx's 'HTTP Request: ...' lines."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets and isinstance(record.args, tuple):
            record.args = tuple("[redacted webhook URL]" if str(arg) in self.secrets else arg
                                for arg in record.args)
        return True


_redact = _RedactSecrets()
logging.getLogger("httpx").addFilter(_redact)


def _escape(text: str) -> str:
    """Slack mrkdwn control characters, so a customer's name cannot forge a link or mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackNotifier:
    """Posts alerts to a Slack incoming webhook; url None logs them at INFO instead."""

    def __init__(self, url: str | SecretStr | None, http: httpx.AsyncClient | None = None, *,
                 public_url: str = "http://127.0.0.1:8000", timeout_s: float = 5.0):
        if isinstance(url, str):
            url = SecretStr(url) if url.strip() else None
        self._url = url
        self._http, self._owns_http = http, False
        self.public_url = public_url.rstrip("/")
        self.timeout_s = timeout_s
        if url is not None:
            try:
                parsed = httpx.URL(url.get_secret_value())
            except Exception:
                raise ValueError("the SLA webhook URL is not a valid URL") from None
            _redact.secrets.update({url.get_secret_value(), str(parsed)})

    @property
    def enabled(self) -> bool:
        return self._url is not None

    def permalink(self, key: str) -> str:
        """The console page, by the conversation's opaque ref: Slack never sees the phone."""
        return f"{self.public_url}/console/c/{conversation_ids.ref(key)}"

    def payload(self, alert: Alert) -> dict:
        """Slack incoming-webhook JSON: a plain-text fallback and a section with the details."""
        minutes = max(0, math.ceil(alert.minutes_to_breach))
        # Slack is outside the system: personal data in a name or reason stays behind.
        customer = _escape(redact(alert.customer or "Unknown customer")[0][:200])
        reason = _escape(redact(alert.reason or "not given")[0][:500])
        link = self.permalink(alert.key)
        headline = (f"SLA warning: {alert.priority} conversation with {customer} breaches its "
                    f"first-response target in {minutes} min, unassigned ({_escape(alert.team)})")
        return {
            "text": f"{headline}: {link}",
            "blocks": [{
                "type": "section",
                "text": {"type": "mrkdwn",
                         "text": f":warning: *First response due in {minutes} min*, nobody has"
                                 f" claimed it. <{link}|Open in the console>"},
                "fields": [
                    {"type": "mrkdwn", "text": f"*Customer*\n{customer}"},
                    {"type": "mrkdwn", "text": f"*Priority*\n{_escape(alert.priority)}"},
                    {"type": "mrkdwn", "text": f"*Reason*\n{reason}"},
                    {"type": "mrkdwn", "text": f"*Minutes to breach*\n{minutes}"},
                    {"type": "mrkdwn", "text": f"*Team*\n{_escape(alert.team)}"},
                ],
            }],
        }

    async def send(self, alert: Alert) -> bool:
        if self._url is None:
            log.info("SLA warning for %s (%s, %.0f min to breach); no webhook configured",
                     conversation_ids.for_log(alert.key), alert.priority, alert.minutes_to_breach)
            return True
        url = self._url.get_secret_value()
        try:
            response = await self._client().post(url, json=self.payload(alert),
                                                  timeout=self.timeout_s)
        except Exception as exc:  # any failure: logged, reported, retried by the watcher
            log.warning("SLA webhook post for %s failed: %s", conversation_ids.for_log(alert.key),
                        type(exc).__name__ + _detail(str(exc), url))
            return False
        if response.status_code >= 300:
            log.warning("SLA webhook post for %s refused: HTTP %s %s", conversation_ids.for_log(alert.key),
                        response.status_code, _redacted(response.text[:200], url))
            return False
        return True

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http, self._owns_http = None, False

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http, self._owns_http = httpx.AsyncClient(), True
        return self._http

    def __repr__(self) -> str:
        return f"SlackNotifier(enabled={self.enabled}, public_url={self.public_url!r})"


def _redacted(text: str, url: str) -> str:
    for secret in (url, str(httpx.URL(url))):
        text = text.replace(secret, "[redacted webhook URL]")
    return text


def _detail(text: str, url: str) -> str:
    text = _redacted(text, url)
    return f" ({text})" if text else ""
