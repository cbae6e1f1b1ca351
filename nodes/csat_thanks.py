"""CSAT thanks: the customer's message was only a rating, which the server has stored
(`server.desk.csat`). It is not a question, so the bot says a short thanks and nothing else."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import Context
from graph.services import services_for
from graph.state import State
from nodes import prompts
from nodes.common import say
from nodes.prompts_i18n import localized, reply_language


async def csat_thanks(state: State, runtime: Runtime[Context]) -> dict:
    """Thank the customer for a rating the server already stored, in their language (a bare
    "5" keeps the conversation's); nothing else is answered."""
    business = (await services_for(runtime.context or Context())).settings.business
    return say(localized(prompts.CSAT_THANKS, reply_language(state.language, business.languages)))
