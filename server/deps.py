"""FastAPI dependencies, as Annotated aliases the routes declare. The parts come from the
composition root (server/composition.py) through the app's lifespan (server/app.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from graph.base.settings import Settings
from server.parts import ServerParts


async def server_parts(request: Request) -> ServerParts:
    # async: a plain def would send every request through the thread pool.
    """FastAPI dependency: what this server process runs with (desk, intake, workers...)."""
    return request.app.state.parts


async def settings_of(request: Request) -> Settings:
    """FastAPI dependency: the settings this server process runs with (those it was built
    from, not a fresh read of the environment as graph.base.settings.get_settings)."""
    return request.app.state.parts.settings


ServerDep = Annotated[ServerParts, Depends(server_parts)]
SettingsDep = Annotated[Settings, Depends(settings_of)]
