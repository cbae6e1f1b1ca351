"""What `langgraph dev` and LangGraph Studio serve (langgraph.json): the support graph, with
the process-wide services opened on first use by the composition root (server/composition.py
`open_core`: Postgres migrated, demo shop seeded, the knowledge base and the models)."""

from __future__ import annotations

from contextlib import AsyncExitStack

from graph.base.settings import get_settings
from graph.graph import graph
from graph.services import Services, open_defaults_with

__all__ = ["graph"]

_held_open = AsyncExitStack()
"""The core Studio's services live on; open for the life of the `langgraph dev` process."""


async def open_services() -> Services:
    """The core's services, from settings (graph/services.py opens them once per process)."""
    from server.composition import open_core

    core = await _held_open.enter_async_context(open_core(get_settings()))
    return core.services


open_defaults_with(open_services)
