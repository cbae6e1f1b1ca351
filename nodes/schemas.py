"""Typed model outputs: the router's decision and the agent's final reply."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from graph.state import Intent


class RouteDecision(BaseModel):
    """Classify the customer's latest message(s). Call this exactly once."""

    kind: Literal["query", "greeting", "thanks", "noise"] = Field(
        description="query: anything that needs an answer; greeting, thanks or noise "
        "(emoji only, 'ok', stray characters) need no agent.")
    intent: Intent = Field(description="What the customer wants.")
    confidence: float = Field(ge=0, le=1, description="How sure you are of the intent, 0-1.")


class Reply(BaseModel):
    """Send your final answer to the customer. Call this once, when you are done."""

    intent: Intent = Field(description="The intent this answer serves.")
    answer: str = Field(max_length=900, description="The WhatsApp message, at most 900 characters.")
    citations: list[str] = Field(
        default_factory=list, max_length=5,
        description="Ids of the knowledge-base passages the answer relies on (at most 5).")
    handoff: bool = Field(default=False, description="True to bring in a human colleague.")
    confidence: float = Field(ge=0, le=1, description="How sure you are the answer is right, 0-1.")
