"""Where this server is reached from outside: the links it puts in messages and alerts, and
the Cloud API it sends through (the real one, or the simulator's fake on this server)."""

from __future__ import annotations

from graph.base.settings import Settings


def public_url(settings: Settings) -> str:
    """The URL customers and agents reach this server at (links in messages and alerts)."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def cloud_api_url(settings: Settings) -> str:
    """Meta's Graph API, or the built-in fake one that the simulator mounts on this server."""
    return (settings.meta.graph_url or f"{public_url(settings)}/fake-graph").rstrip("/")
