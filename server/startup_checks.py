"""Production settings are checked before anything starts, the stores they name must answer,
and the effective configuration is reported with every secret masked.

`check_startup` is the one check: `switchboard serve`, `switchboard worker` and `create_app`
(so an embedding too) call it. It refuses a real channel that still uses a published value,
a demo forced next to a real channel, a console served over plain HTTP beyond this machine
and an invalid template catalogue; the CLI turns `StartupRefused` into its one line and exit
code 2. `check_services`
(the CLI's, before anything is served) refuses a PostgreSQL, Redis or Chroma server that does
not answer within seconds, the same way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from graph.base.settings import Settings
from server.demo_mode import (
    DemoMode,
    channels,
    demo_mode,
    exposed,
    is_loopback,
    meta_defaults_left,
    url_host,
)

log = logging.getLogger("switchboard.config")


META_HINTS = {"app_secret": "set your Meta app's secret (it signs every webhook)",
              "verify_token": "choose your own webhook verify token",
              "access_token": "set your WhatsApp Cloud API access token"}


class StartupRefused(RuntimeError):
    """Serving with these settings would be unsafe; the message is one line naming the setting."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__("refusing to start: " + "; ".join(reasons))


class ServiceUnreachable(StartupRefused):
    """A store the settings name does not answer, or an embedded one could not start."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        RuntimeError.__init__(self, "cannot start: " + "; ".join(reasons)
                              + " (`switchboard doctor` checks every dependency)")


def _blank(secret) -> bool:
    return secret is None or not secret.get_secret_value().strip()


def channel_problems(settings: Settings) -> list[str]:
    """Channel settings that are unsafe to serve with."""
    configured, problems = channels(settings), []
    if settings.demo_mode == "on" and configured.any:
        problems.append(f"DEMO_MODE=on with a real channel configured ({configured.named()}): the"
                        " simulator would let anyone act as any customer; unset one of them")
    if configured.meta:
        for name in meta_defaults_left(settings):
            problems.append(f"META__{name.upper()} is the published simulator default;"
                            f" {META_HINTS[name]}")
        for name in ("app_secret", "verify_token", "access_token"):
            if _blank(getattr(settings.meta, name)):
                problems.append(f"META__{name.upper()} is empty")
        graph = (settings.meta.graph_url or "").strip()
        if not graph:
            problems.append(f"META__GRAPH_URL is unset while Meta is configured ({configured.named()});"
                            " replies would go to the simulator: set https://graph.facebook.com")
        elif urlsplit(graph).scheme != "https" and not is_loopback(url_host(graph)):
            problems.append("META__GRAPH_URL must be https: the access token travels with every send")
    if configured.twilio and _blank(settings.twilio.auth_token):
        problems.append(f"TWILIO__AUTH_TOKEN is unset or empty while Twilio is configured"
                        f" ({configured.named()}); its webhooks could not be verified")
    twilio_api = settings.twilio.api_base_url
    if configured.twilio and urlsplit(twilio_api).scheme != "https" and not is_loopback(url_host(twilio_api)):
        problems.append("TWILIO__API_BASE_URL must be https: the auth token travels with every send")
    return problems


def http_problems(settings: Settings) -> list[str]:
    """Public URL and listening settings that are unsafe to serve with."""
    public = (settings.public_url or "").strip()
    scheme = urlsplit(public).scheme if public else ""
    if public and (scheme not in ("http", "https") or not url_host(public)):
        return ["PUBLIC_URL must be an http:// or https:// URL with a host"]
    if settings.allow_insecure_http or scheme == "https":
        return []
    if reachable := exposed(settings):
        return [f"{' and '.join(reachable)} would serve console logins over plain HTTP beyond"
                " this machine; put a TLS-terminating proxy in front and set"
                " PUBLIC_URL=https://..., or set ALLOW_INSECURE_HTTP=true"]
    return []


def catalog_problems(settings: Settings) -> list[str]:
    """The template catalogue's first problem, naming its file (server/outbox/templates_catalog.py)."""
    from server.outbox.templates_catalog import TemplateCatalogError, catalog_for

    try:
        catalog_for(settings)
    except TemplateCatalogError as error:
        return [str(error)]
    return []


RETIRED = {
    "REENGAGEMENT_TEMPLATE": "the catalogue's `reengagement = true` entry (docs/templates.md)",
    "TEMPLATE_LANGUAGE": "the catalogue's entries per language (docs/templates.md)",
}
"""Settings an older version read: still set, they would be ignored without a word."""


def retired_problems(environment: Mapping[str, str] | None = None) -> list[str]:
    """A retired setting still in the environment: refused, saying what replaced it, rather
    than a template the business chose silently no longer being the one sent."""
    environment = os.environ if environment is None else environment
    return [f"{name} is no longer read: use {instead}"
            for name, instead in RETIRED.items() if environment.get(name)]


def check_startup(settings: Settings, *, serves_http: bool = True) -> DemoMode:
    """Raise StartupRefused naming every unsafe setting or a bad template catalogue; else the
    demo mode these settings give. A worker (`serves_http=False`) serves no console, so plain
    HTTP is not its concern."""
    problems = (channel_problems(settings) + catalog_problems(settings) + retired_problems()
                + (http_problems(settings) if serves_http else []))
    if problems:
        raise StartupRefused(problems)
    return demo_mode(settings)


def check_services(settings: Settings) -> None:
    """PostgreSQL and Redis (started here when embedded) and a Chroma server answer within
    seconds; else ServiceUnreachable naming each one that does not. Runs its own event loop:
    for the command line, before the server starts."""
    import asyncio

    from server.doctor import FAILED, store_rows

    # The configured ones first: a mistyped URL is refused before anything embedded starts.
    for which in ({"embedded": False}, {"configured": False}):
        rows = asyncio.run(store_rows(settings, embedded_chroma=False, **which))
        failed = [f"{r.dependency}{f' at {r.where}' if r.where else ''}: {r.detail}"
                  for r in rows if r.status == FAILED]
        if failed:
            raise ServiceUnreachable(failed)


# --- The effective configuration ------------------------------------------------------------

def _where(url: str | None, default: str) -> str:
    """Host and port of a URL, never its user, password, path or query."""
    if not url:
        return default
    try:
        parts = urlsplit(url.strip())
        return f"{parts.hostname}:{parts.port}" if parts.port else (parts.hostname or "set")
    except ValueError:
        return "set"


host_and_port = _where


def _postgres(settings: Settings) -> str:
    if settings.database_url is None:
        return f"embedded ({settings.data_dir / 'postgres'})"
    try:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(settings.database_url.get_secret_value())
    except Exception:  # noqa: BLE001 - a malformed URL fails later, with its own message
        return "external"
    return f"{info.get('host') or 'local socket'}:{info.get('port') or 5432}/{info.get('dbname', '')}"


def _model(model) -> str:
    if not model.model:
        return "offline brain"
    return f"{model.model} at {_where(model.base_url, 'api.openai.com')}"


def _secret(value, published=None) -> str:
    if value is None:
        return "unset"
    plain = value.get_secret_value()
    return "default" if published is not None and plain == published else ("set" if plain else "empty")


def describe(settings: Settings, demo: DemoMode) -> list[str]:
    """The effective configuration, one compact line per topic; secrets as set/default/unset."""
    configured, defaults = channels(settings), set(meta_defaults_left(settings))
    live = [f"meta ({_where(settings.meta.graph_url, '')})"] if configured.meta else []
    live += ["twilio"] if configured.twilio else []
    live += ["simulator (fake Cloud API on this server)"] if demo.on else []
    meta = {n: _secret(getattr(settings.meta, n)) if n not in defaults else "default"
            for n in ("app_secret", "verify_token", "access_token")}
    secrets = {**{f"META__{n.upper()}": v for n, v in meta.items()},
               "TWILIO__AUTH_TOKEN": _secret(settings.twilio.auth_token),
               "ROUTER__API_KEY": _secret(settings.router.api_key),
               "AGENT__API_KEY": _secret(settings.agent.api_key),
               "EMBEDDINGS__API_KEY": _secret(settings.embeddings.api_key),
               "SLACK_WEBHOOK_URL": _secret(settings.slack_webhook_url)}
    embeddings = settings.embeddings.model or "offline WordLlama"
    brain = ("models (below), with the offline brain standing in when one fails"
             if settings.router.model or settings.agent.model
             else "the offline brain (no model configured: rules and the help center)")
    return [
        f"channels: {', '.join(live) or 'none (no webhook will be accepted)'}",
        f"demo mode: {demo}",
        f"brain: {brain}",
        f"models: router {_model(settings.router)}; agent {_model(settings.agent)};"
        f" embeddings {embeddings}; transcription"
        f" {_model(settings.transcribe) if settings.transcribe.model else 'off'}",
        f"stores: postgres {_postgres(settings)}; redis"
        f" {_where(settings.redis_url.get_secret_value() if settings.redis_url else None, 'embedded')};"
        f" chroma {_where(settings.chroma_url, 'embedded')}",
        f"http: {settings.host}:{settings.port}, public url {settings.public_url or 'unset'}"
        + (", ALLOW_INSECURE_HTTP=true" if settings.allow_insecure_http else ""),
        "secrets: " + ", ".join(f"{name} {state}" for name, state in secrets.items()),
    ]


def report(settings: Settings, demo: DemoMode) -> None:
    """Log what the process starts with (never secrets)."""
    for line in describe(settings, demo):
        log.info("%s", line)
