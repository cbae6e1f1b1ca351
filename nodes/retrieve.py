"""Retrieve: search the knowledge base for this turn's question."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import Context
from graph.services import services_for
from graph.state import State
from nodes.common import turn_text


async def retrieve(state: State, runtime: Runtime[Context]) -> dict:
    """Fetch the knowledge-base passages for the turn: the only sources a reply may cite."""
    services = await services_for(runtime.context)
    settings = services.settings
    # Metadata filters: locale now; a tenant filter would join it here.
    where = {"locale": settings.knowledge_locale} if settings.knowledge_locale else None
    passages = await services.knowledge.search(turn_text(state.messages), k=settings.retrieval_k,
                                               where=where)
    return {"passages": passages}
