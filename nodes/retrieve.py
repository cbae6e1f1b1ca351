"""Retrieve: search the knowledge base for this turn's question."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import Context
from graph.services import services_for
from graph.state import State
from nodes.common import turn_text


async def retrieve(state: State, runtime: Runtime[Context]) -> dict:
    services = await services_for(runtime.context)
    passages = await services.knowledge.search(turn_text(state.messages), k=services.settings.retrieval_k)
    return {"passages": passages}
