"""FastAPI dependencies, as Annotated aliases the routes declare."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from graph.base.settings import Settings
from server.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    # async: a plain def would send every request through the thread pool.
    """FastAPI dependency: the process's runtime."""
    return request.app.state.runtime


async def get_settings(request: Request) -> Settings:
    """FastAPI dependency: the settings the process runs with."""
    return request.app.state.runtime.settings


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
