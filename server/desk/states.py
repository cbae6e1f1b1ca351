"""The desk's closed vocabularies (states, priorities, roles) and how the graph's status maps
onto the desk's state: the one place every part reads them.

`desk_conversations.state` (server/migrations/0001_initial.sql) holds a DeskState. While it is
one of HUMAN_STATES the bot sends nothing (the desk checks under the row's lock), the console
lists the conversation in its queue, and the SLA watcher counts the wait for a human's first
reply. The enums are `StrEnum`s, so their values are the strings stored in the tables.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

from graph.state import Status, move


class DeskState(StrEnum):
    """Who owns a conversation, as its desk row says."""

    BOT = "BOT"
    """The bot answers."""
    PENDING_AGENT = "PENDING_AGENT"
    """Handed off, waiting for a human."""
    AGENT = "AGENT"
    """A human is working on it."""
    CLOSED = "CLOSED"
    """Resolved by a human; the customer's next message reopens it (BOT)."""
    DORMANT = "DORMANT"
    """A bot conversation whose 24-hour window lapsed; a new message reopens it (BOT)."""


class Priority(StrEnum):
    """A handoff's priority (the SLA file's `priority` values, in rising order)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """0 for low up to 3 for urgent."""
        return list(Priority).index(self)

    def raised(self) -> Priority:
        """One step higher (urgent stays urgent)."""
        return list(Priority)[min(self.rank + 1, len(Priority) - 1)]


class AgentRole(StrEnum):
    """What a console agent may do: supervisors see every team and assign conversations."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"


HUMAN_STATES: tuple[DeskState, ...] = (DeskState.PENDING_AGENT, DeskState.AGENT)
"""Waiting for a human (PENDING_AGENT) or with one (AGENT)."""

HandbackAction = Literal["return_to_bot", "resolved"]
"""What an agent does when handing a conversation back (nodes/await_human.py HumanOutcome)."""

_DESK_STATE_OF: dict[Status, DeskState] = {
    "new": DeskState.BOT,
    "authenticated": DeskState.BOT,
    "automated": DeskState.BOT,
    "human": DeskState.PENDING_AGENT,  # the graph cannot tell waiting from being worked on
    "closed": DeskState.CLOSED,
    "dormant": DeskState.DORMANT,
}
if set(_DESK_STATE_OF) != set(get_args(Status)):  # a new graph status needs its desk state
    raise RuntimeError("every graph Status needs a desk state")


def desk_state_for(status: Status) -> DeskState:
    """The desk state a graph status implies. The desk row is the authority on ownership; the
    graph's `status` (graph/state.py) follows it, coarser: 'human' is PENDING_AGENT or AGENT,
    and the three bot statuses (new, authenticated, automated) are all BOT."""
    return _DESK_STATE_OF[status]


def owned_by_human(status: Status) -> bool:
    """Whether a graph status means a human owns the conversation (a HUMAN_STATES state)."""
    return desk_state_for(status) in HUMAN_STATES


def after_handback(action: HandbackAction) -> DeskState:
    """The desk state a hand-back leads to, derived from the graph's own move on resume
    (human → automated on return, human → closed on resolve)."""
    event: Literal["returned", "resolved"] = "returned" if action == "return_to_bot" else "resolved"
    target = move("human", event, "").get("status", "human")
    return desk_state_for(target)
