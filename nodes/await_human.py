"""Await human: pause the conversation until a human hands it back.

`interrupt()` persists the handoff payload and stops the run; nothing is sent meanwhile.
`Command(resume=HumanOutcome)` continues here with what the human did: the exchange goes into
the transcript, followed by a hand-back mark. Whatever the customer wrote before the mark was
seen by the human, so later turns answer only what comes after it (`turn_text` stops at the
mark, and the model reads it). Resuming sends nothing: the handoff's own text is not said again.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import Overwrite, interrupt
from pydantic import BaseModel, Field

from graph.base import pii
from graph.context import Context
from graph.services import services_for
from graph.state import State, StatusEvent, move
from nodes import prompts

HANDBACK = "handback"
"""The name of the hand-back mark's message in the transcript."""


class HumanOutcome(BaseModel):
    """What a human agent did with the conversation; the resume value."""

    action: Literal["return_to_bot", "resolved"]
    agent: str = Field(min_length=1, description="The human agent's id.")
    notes: str = Field(default="", max_length=2000, description="Context for the bot.")
    customer_messages: list[str] = Field(default_factory=list,
                                         description="What the customer wrote meanwhile.")
    agent_messages: list[str] = Field(default_factory=list,
                                      description="What the human sent the customer.")
    exchange: list[dict[str, str]] = Field(
        default_factory=list, description="The whole exchange in order: {'from': 'customer' or "
        "'agent', 'text': ...}; used instead of the two lists when given.")


async def await_human(state: State, runtime: Runtime[Context]) -> dict:
    """Pause for the human (interrupt), then take back what they said and did when they hand
    back."""
    outcome = HumanOutcome.model_validate(interrupt(state.handoff))
    context = runtime.context or Context()
    settings = (await services_for(context)).settings
    exchange = outcome.exchange or (
        [{"from": "customer", "text": t} for t in outcome.customer_messages]
        + [{"from": "agent", "text": t} for t in outcome.agent_messages])
    transcript = [
        HumanMessage(pii.redact(item["text"])[0], additional_kwargs={"guarded": True})
        if item["from"] == "customer" else AIMessage(item["text"], name=f"agent_{outcome.agent}")
        for item in exchange]
    event: StatusEvent = "returned" if outcome.action == "return_to_bot" else "resolved"
    mark = AIMessage(prompts.HANDBACK_MARK.format(
        agent=outcome.agent[:60], event="handed the conversation back to you"
        if event == "returned" else "resolved the conversation"), name=HANDBACK)
    update = {"messages": [*transcript, mark], "handoff": None, "handoff_reason": None,
              "outbound": Overwrite([]),  # the handoff's text was sent when it was said
              **move(state.status, event, context.clock().isoformat())}
    if outcome.action == "return_to_bot":
        update.update(cooldown=settings.escalation_cooldown_messages,
                      handoff_notes=outcome.notes or None)
    return update
