"""The support graph's state: a narrow input schema and the full conversation state.

Nested values are plain TypedDicts so that checkpoints stay JSON-like and load in any
process without registering classes with the serializer.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

Intent = Literal[
    "order_status", "returns_refunds", "product_question", "billing",
    "complaint", "human_request", "other",
]
Status = Literal["new", "authenticated", "automated", "human", "closed", "dormant"]
Silence = Literal["human_owns", "rate_limited", "no_text", "noise", "human_took_over"]
"""Why a turn deliberately ends without a reply or a handoff."""


class Customer(TypedDict):
    """A customer as the shop knows them; set by the server or by verification."""

    id: str
    name: str
    phone: str | None
    email: str
    tier: str


class Verification(TypedDict):
    """Where the customer stands with identity checks."""

    status: Literal["unverified", "challenged", "verified", "locked"]
    method: str | None
    attempts: int
    locked_until: str | None


class Passage(TypedDict):
    """One knowledge-base chunk retrieved this turn."""

    id: str
    title: str
    section: str
    url: str
    text: str
    score: float


class Reply(TypedDict):
    """The checked answer of one turn (the output guardrail's schema, as a dict)."""

    intent: Intent
    answer: str
    citations: list[str]
    handoff: bool
    confidence: float


class Choice(TypedDict):
    """One option the customer can tap (a WhatsApp reply button or list row) or type.

    `title` is what the customer's tap sends back as text, so it must be an answer the graph
    understands typed (nodes/choices.py keeps the WhatsApp length limits)."""

    id: str
    title: str
    description: NotRequired[str]


class HandoffPlan(TypedDict):
    """How a handoff will go, as the desk plans it from the SLA matrix and who is online."""

    mode: Literal["warm", "cold"]
    priority: str
    first_response_due_at: str
    resolution_due_at: str
    callback_at: str | None
    eta: str


class Handoff(TypedDict):
    """The pending handoff: what the human sees in the queue and the interrupt's payload.

    nodes/handoff.py builds it, the server's take-over and late-message paths build smaller
    ones, and the desk (server/desk/desk.py open_handoff) stores it with the conversation.
    """

    reference: str
    reason: str
    priority: str
    summary: str
    intent: Intent | None
    customer: Customer | None
    order_refs: list[str]
    confidence: NotRequired[float]
    verification: NotRequired[str]
    citations: NotRequired[list[str]]
    requested_at: NotRequired[str]
    mode: NotRequired[Literal["warm", "cold"]]
    eta: NotRequired[str]
    first_response_due_at: NotRequired[str]
    resolution_due_at: NotRequired[str]
    callback_at: NotRequired[str | None]
    transcript_url: NotRequired[str]
    late: NotRequired[dict[str, Any]]
    """Set only for a batch that reached us late (server/inbound/late_messages.py)."""


class Transition(TypedDict):
    """One move of the conversation state machine: who, when and why."""

    source: Status
    target: Status
    event: str
    at: str


class Usage(TypedDict):
    """Model usage added up over the conversation."""

    model_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float


def merge_passages(current: list[Passage], new: list[Passage]) -> list[Passage]:
    """Reducer: add passages, one per id. Each turn starts with Overwrite([])."""
    seen = {p["id"] for p in current}
    return [*current, *(p for p in new if p["id"] not in seen)]


RECENT_RECORDS = 10
"""How many of the latest transitions, fallbacks and guardrail events the state keeps: they say
what happened lately (the audit trail keeps everything); all of them would grow with every turn."""


def add_recent(current: list, new: list) -> list:
    """Reducer: append, keeping the latest RECENT_RECORDS."""
    return [*current, *new][-RECENT_RECORDS:]


MAX_ORDER_REFS = 10
"""Order numbers the state remembers, the latest mentioned last."""


def remember_orders(known: list[str], mentioned: list[str]) -> list[str]:
    """The order numbers to remember: those just mentioned last (moved there if known before),
    at most MAX_ORDER_REFS."""
    fresh = list(dict.fromkeys(mentioned))
    return [*(r for r in known if r not in fresh), *fresh][-MAX_ORDER_REFS:]


def add_usage(total: Usage | None, delta: Usage | None) -> Usage:
    """Reducer: sum usage counters."""
    a = total or Usage(model_calls=0, tokens_in=0, tokens_out=0, cost_usd=0.0)
    b = delta or Usage(model_calls=0, tokens_in=0, tokens_out=0, cost_usd=0.0)
    return Usage(model_calls=a.get("model_calls", 0) + b.get("model_calls", 0),
                 tokens_in=a.get("tokens_in", 0) + b.get("tokens_in", 0),
                 tokens_out=a.get("tokens_out", 0) + b.get("tokens_out", 0),
                 cost_usd=a.get("cost_usd", 0.0) + b.get("cost_usd", 0.0))


@dataclass(kw_only=True)
class InputState:
    """What a caller may send: the customer's new messages."""

    messages: Annotated[Sequence[AnyMessage], add_messages] = field(default_factory=list)
    """The transcript. Customer text is stored only after the input guardrail redacts it."""


@dataclass(kw_only=True)
class State(InputState):
    """The full, checkpointed state of one WhatsApp conversation."""

    turn: int = 0
    """Number of customer turns so far."""
    earlier_messages: int = 0
    """Transcript messages dropped so far by the retained window (nodes/history_window.py,
    CHECKPOINTS__KEEP_MESSAGES); the console tells the human that many came before."""
    turn_key: str | None = None
    """The server's key for the batch of messages this turn answers (see Context.turn_key)."""
    customer: Customer | None = None
    """The customer, resolved from the WhatsApp identity or by verification, never by a model."""
    verification: Verification = field(
        default_factory=lambda: Verification(
            status="unverified", method=None, attempts=0, locked_until=None
        )
    )
    """Identity-check progress and lockout."""
    status: Status = "new"
    """Conversation state machine: new, authenticated, automated, human, closed, dormant."""
    transitions: Annotated[list[Transition], add_recent] = field(default_factory=list)
    """The latest status changes with their reasons (RECENT_RECORDS of them)."""
    last_customer_at: str | None = None
    """UTC time of the customer's latest message; opens the 24-hour window."""
    recent_message_times: list[str] = field(default_factory=list)
    """Timestamps inside the rate-limit window."""
    flags: list[str] = field(default_factory=list)
    """Input guardrail findings of this turn (pii:email, abuse, injection, rate_limited)."""
    needs_agent: bool = True
    """False when the router found small talk or noise."""
    intent: Intent | None = None
    """The router's intent for this turn."""
    confidence: float = 0.0
    """The router's confidence in the intent, 0 to 1."""
    needs_account: bool = False
    """Whether this turn's answer needs the customer's own account (their order's status, their
    refund, their invoice): only then is identity checked. Set by the router
    (nodes/own_account.py); a general policy question is answered without it."""
    order_refs: list[str] = field(default_factory=list)
    """Order numbers mentioned in the conversation, the latest MAX_ORDER_REFS (remember_orders)."""
    passages: Annotated[list[Passage], merge_passages] = field(default_factory=list)
    """Knowledge-base passages retrieved this turn; the only citable sources."""
    citations: list[Passage] = field(default_factory=list)
    """Passages the checked reply cites, in the order shown to the customer."""
    agent_steps: int = 0
    """Agent model calls in this turn, capped by max_tool_iterations."""
    reply: Reply | None = None
    """The checked answer of this turn."""
    outbound: Annotated[list[str], operator.add] = field(default_factory=list)
    """Texts to send to the customer for this turn; the server delivers them once."""
    choices: list[Choice] = field(default_factory=list)
    """Options offered with this turn's reply as buttons or a list (nodes/choices.py); the
    texts still number them, so typing works on any client. Cleared each turn."""
    handoff: Handoff | None = None
    """The pending handoff: what the human sees in the queue (the interrupt payload)."""
    silence: Silence | None = None
    """Why this turn deliberately says nothing (a human owns the conversation or took it
    over mid-turn, rate limit, noise); None when it replies or hands off. A turn that ends
    with neither a reply, a handoff nor a reason here is a bug, and the server hands it off."""
    language: str = "en"
    """The customer's language as last detected (graph/base/language.py); canned replies use it."""
    clarifications: int = 0
    """Consecutive unsure turns answered with a clarifying question and an offer of a human
    (nodes/humility.py); the next unsure turn hands off, a sure answer resets it."""
    unresolved_turns: int = 0
    """Consecutive bot answers that were unsure; enough of them bring in a human."""
    handoff_reason: str | None = None
    """Why a human is needed; set means a handoff is requested."""
    handoff_notes: str | None = None
    """What the human said when handing the conversation back."""
    cooldown: int = 0
    """Customer messages left during which automatic escalation is off."""
    fallbacks: Annotated[list[str], add_recent] = field(default_factory=list)
    """The latest turns in which the offline brain stood in for a failed model, with the cause."""
    guardrail_events: Annotated[list[str], add_recent] = field(default_factory=list)
    """The latest output checks that failed and how they were repaired."""
    usage: Annotated[Usage, add_usage] = field(
        default_factory=lambda: Usage(model_calls=0, tokens_in=0, tokens_out=0, cost_usd=0.0)
    )
    """Model calls, tokens and cost over the conversation."""


StatusEvent = Literal[
    "authed", "answered", "handoff", "returned", "resolved", "window_expired", "customer_message",
]

_MOVES: dict[tuple[Status, StatusEvent], Status] = {
    ("new", "authed"): "authenticated",
    ("new", "answered"): "automated",
    ("authenticated", "answered"): "automated",
    ("automated", "authed"): "authenticated",
    ("human", "returned"): "automated",
    ("human", "resolved"): "closed",
    ("automated", "resolved"): "closed",
    ("closed", "customer_message"): "new",
    ("dormant", "customer_message"): "new",
}


class StatusUpdate(TypedDict, total=False):
    """The state update of one state-machine move (empty when nothing changes)."""

    status: Status
    transitions: list[Transition]


def move(status: Status, event: StatusEvent, at: str) -> StatusUpdate:
    """State update for one state-machine event; empty when the event changes nothing.

    Any state goes to human on a handoff and to dormant when the 24-hour window lapses.
    """
    if event == "handoff":
        target: Status = "human"
    elif event == "window_expired":
        target = "dormant"
    else:
        target = _MOVES.get((status, event), status)
    if target == status:
        return {}
    record = Transition(source=status, target=target, event=event, at=at)
    return {"status": target, "transitions": [record]}
