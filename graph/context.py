"""Per-run values the server hands the graph with each turn (LangGraph `context_schema`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from graph.base.audit import AuditEvent
from graph.base.conversation import ConversationId

if TYPE_CHECKING:
    from graph.services import Services


@dataclass(kw_only=True)
class Context:
    """Identity and raw input of one turn, plus the services it runs against.

    Identity comes in two fields that are never mixed up: `conversation_id` names the
    conversation (permalinks, references, the verification ledger's sender), `phone` is the
    customer's real number, the only thing a customer is looked up by. The server fills both
    from the webhook (`server.conversations`); a customer who shares only a username has an id
    and no phone."""

    conversation_id: ConversationId | None = None
    """The conversation this turn belongs to (graph/base/conversation.py); None outside a
    conversation (LangGraph Studio, some tests)."""
    conversation_ref: str | None = None
    """The conversation's opaque ref (server/conversation_ids.py), the name the audit trail
    uses; the server fills it, since only it holds the secret that makes it."""
    phone: str | None = None
    """The customer's WhatsApp number, from the webhook; None when they share only a username.
    The only number the shop is asked about: identity never comes from a message or a model."""
    inbound: list[str] = field(default_factory=list)
    """This turn's raw customer texts. They travel here, not in state, so that text is
    checkpointed only after the input guardrail has redacted it."""
    turn_key: str | None = None
    """Names this turn's batch of messages; a re-run of a crashed turn carries the same key."""
    now: str | None = None
    """The turn's time (ISO 8601, UTC); unset means the wall clock. Tests pin it."""
    should_yield: Callable[[], Awaitable[bool]] | None = None
    """Asked before every agent step: True once a human has taken the conversation over."""
    csat_score: int | None = None
    """Set by the server when this turn is only a CSAT rating, already stored
    (`server.desk.csat`): the bot thanks the customer and answers nothing."""
    services: Services | None = None
    """Models, shop and knowledge base; unset means the process-wide defaults."""
    decisions: list[AuditEvent] = field(default_factory=list, repr=False)
    """This run's decisions for the audit trail (route, model and tool calls, guardrails,
    fallbacks, breaker changes), noted by the nodes (nodes/audit_notes.py) and written by the
    server in the transaction that commits the turn: never checkpointed, so a turn's decisions
    exist exactly when the turn did."""
    model_deadline: float | None = field(default=None, init=False, repr=False)
    """When this turn's model time runs out (time.monotonic()); set by its first model call."""

    def note(self, *events: AuditEvent) -> None:
        """Keep decisions of this run for the audit trail (see `decisions`), timed now (the
        wall clock, as the database times the events written at once), so the trail shows
        them in the order they were made, not when the turn committed."""
        at = datetime.now(UTC)
        self.decisions.extend(e if e.at else replace(e, at=at) for e in events)

    def clock(self) -> datetime:
        """The turn's time as an aware datetime."""
        return datetime.fromisoformat(self.now) if self.now else datetime.now(UTC)

    def model_time_left(self, budget_s: float) -> float:
        """Seconds of model time this turn has left of `budget_s`; the first ask starts the clock."""
        now = time.monotonic()
        if self.model_deadline is None:
            self.model_deadline = now + budget_s
        return max(0.0, self.model_deadline - now)
