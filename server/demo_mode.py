"""Demo mode: the simulator, the fake Cloud API, the demo console accounts and the API docs.

They let anyone play any customer, read any conversation and log in as demo/demo: right on a
developer's laptop, a hole anywhere else. So they exist only while no real WhatsApp channel is
configured and the server is reachable from this machine only, or DEMO_MODE=on asks for a
demo on a network (never with a real channel). This module is the one place that decides;
the app, the console and the startup checks ask it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from graph.base.settings import MetaSettings, Settings

META_DEFAULTS = {name: MetaSettings.model_fields[name].default
                 for name in ("app_secret", "verify_token", "access_token", "phone_number_id")}
"""The simulator's published Meta values: anyone can sign a webhook with them."""


def _plain(value) -> str:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def meta_defaults_left(settings: Settings) -> list[str]:
    """The META__ secrets still equal to the simulator's published values."""
    return [name for name in ("app_secret", "verify_token", "access_token")
            if _plain(getattr(settings.meta, name)) == _plain(META_DEFAULTS[name])]


@dataclass(frozen=True)
class Channels:
    """The real channels configured, each as the settings that say so."""

    meta: tuple[str, ...]
    twilio: tuple[str, ...]

    @property
    def any(self) -> bool:
        return bool(self.meta or self.twilio)

    def named(self) -> str:
        return ", ".join(self.meta + self.twilio)


def channels(settings: Settings) -> Channels:
    """Meta counts as configured when META__GRAPH_URL is set or any META__ value differs from the
    simulator's; Twilio when its auth token, account SID or sender is set."""
    meta = ["META__GRAPH_URL"] if (settings.meta.graph_url or "").strip() else []
    meta += [f"META__{name.upper()}" for name, default in META_DEFAULTS.items()
             if _plain(getattr(settings.meta, name)) != _plain(default)]
    twilio = [f"TWILIO__{name.upper()}" for name in ("auth_token", "account_sid", "from_number")
              if getattr(settings.twilio, name) is not None]
    return Channels(tuple(meta), tuple(twilio))


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 or localhost; 0.0.0.0, '' and every other name or address are not."""
    host = (host or "").strip().strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_host(url: str) -> str | None:
    """The host of a URL, or None when it does not parse."""
    try:
        return urlsplit(url.strip()).hostname
    except ValueError:
        return None


def exposed(settings: Settings) -> list[str]:
    """The settings that make this server reachable beyond this machine: HOST and PUBLIC_URL."""
    found = [] if is_loopback(settings.host) else [f"HOST {settings.host or '(all)'}"]
    if settings.public_url and not is_loopback(url_host(settings.public_url)):
        found.append(f"PUBLIC_URL {settings.public_url}")
    return found


@dataclass(frozen=True)
class DemoMode:
    """Whether demo mode is on, and why."""

    on: bool
    why: str

    def __str__(self) -> str:
        return f"{'on' if self.on else 'off'}: {self.why}"


def demo_mode(settings: Settings) -> DemoMode:
    """DEMO_MODE=auto (default): on with no real channel and a loopback HOST and PUBLIC_URL.
    =on: also on a network, but a real channel still keeps it off (and the startup checks
    refuse that combination). =off: never."""
    configured = channels(settings)
    if settings.demo_mode == "off":
        return DemoMode(False, "DEMO_MODE=off")
    if configured.any:
        return DemoMode(False, f"a real channel is configured: {configured.named()}")
    if settings.demo_mode == "on":
        return DemoMode(True, "DEMO_MODE=on, no real channel configured")
    if reachable := exposed(settings):
        return DemoMode(False, f"{' and '.join(reachable)} not loopback;"
                               " DEMO_MODE=on runs a demo on a network")
    return DemoMode(True, "no real channel configured, served on loopback only")
