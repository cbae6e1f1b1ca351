"""Retrieve: search the knowledge base for this turn's question."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import Context
from graph.services import services_for
from graph.state import State
from nodes.common import turn_text
from nodes.intents.gloss import english_gloss


async def retrieve(state: State, runtime: Runtime[Context]) -> dict:
    """Fetch the knowledge-base passages for the turn: the only sources a reply may cite.

    A question in another language is searched in that locale first; when the knowledge base
    has nothing in it, in the configured locale (else all) with English words for its topic
    added, since the help center may be written only in English."""
    services = await services_for(runtime.context)
    settings = services.settings
    question = turn_text(state.messages)
    # Metadata filters: locale now; a tenant filter would join it here.
    where = {"locale": settings.knowledge_locale} if settings.knowledge_locale else None
    if state.language != "en" and state.language != settings.knowledge_locale:
        found = await services.knowledge.search(question, k=settings.retrieval_k,
                                                where={"locale": state.language})
        if found:
            return {"passages": found}
        question = f"{question}\n{english_gloss(question)}".strip()
    passages = await services.knowledge.search(question, k=settings.retrieval_k, where=where)
    return {"passages": passages}
