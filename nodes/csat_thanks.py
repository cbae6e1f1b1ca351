"""CSAT thanks: the customer's message was only a rating, which the server has stored
(`server.desk.csat`). It is not a question, so the bot says a short thanks and nothing else."""

from __future__ import annotations

from graph.state import State
from nodes import prompts
from nodes.common import say


async def csat_thanks(state: State) -> dict:
    """Thank the customer for a rating the server already stored; nothing else is answered."""
    return say(prompts.CSAT_THANKS)
