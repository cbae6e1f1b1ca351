"""The desk's part of the service report (server/reporting/): what happened to conversations
on the desk, read from its event log (desk_events), the agents' replies in the outbox and the
CSAT ratings. Facts only; server/reporting/figures.py turns them into figures.

A handoff is the bot's transition to PENDING_AGENT (`events._is_handoff`, written by
`Desk.open_handoff`); it lasts until the conversation's next handoff. An agent's reply is an
outbox row queued by `actions.reply` (idempotency key "agent:<event id>:<part>"); a hand-back
is an agent's transition from a human state to BOT or CLOSED (`actions._hand_back`); a missed
SLA is the watcher's sla_miss event (server/desk/watcher.py), with its target and cause.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from graph.base.sql import Conn
from server.desk.states import HUMAN_STATES, DeskState

_HUMAN = [str(s) for s in HUMAN_STATES]
_HANDED_BACK = [str(DeskState.BOT), str(DeskState.CLOSED)]


@dataclass(frozen=True)
class Escalation:
    """A conversation's desk history from its first message in the report's window on."""

    key: str
    human_at: datetime | None
    """When a human first took part (a handoff, or an agent claiming or answering)."""
    resolved_at: datetime | None
    """When an agent first resolved it (CLOSED)."""


@dataclass(frozen=True)
class Handoff:
    """One handoff and what followed it until the conversation's next handoff."""

    key: str
    at: datetime
    reason: str | None
    first_agent_reply_at: datetime | None
    """When the first agent reply after it was sent (the outbox's sent_at)."""
    handed_back_at: datetime | None
    """When an agent first resolved it or returned it to the bot."""
    misses: tuple[tuple[str, str], ...]
    """The SLA misses recorded for it: (target, cause), target first_response or resolution."""


# Transitions from `since` on that matter for escalations: into a human state, or CLOSED.
_TRANSITIONS = """
SELECT conversation_key AS key, at, to_state FROM desk_events
WHERE kind = 'transition' AND at >= %(since)s AND to_state = ANY(%(states)s)"""


def _is_handoff(alias: str) -> str:
    """SQL: the desk event `alias` is a handoff (as events._is_handoff decides in Python)."""
    return (f"{alias}.kind = 'transition' AND {alias}.actor = 'bot'"
            f" AND {alias}.to_state = 'PENDING_AGENT'")


# Joins and one grouping rather than subqueries per handoff: the outbox has no index by
# conversation, and a week has thousands of handoffs.
_HANDOFFS = f"""
WITH handoffs AS MATERIALIZED (
    SELECT h.id, h.conversation_key AS key, h.at, h.reason, nxt.at AS next_at
    FROM desk_events h
    LEFT JOIN LATERAL (SELECT n.at FROM desk_events n WHERE n.conversation_key = h.conversation_key
        AND n.id > h.id AND {_is_handoff('n')} ORDER BY n.id LIMIT 1) nxt ON true
    WHERE {_is_handoff('h')} AND h.at >= %(since)s AND h.at < %(until)s),
replies AS (
    SELECT h.id, min(o.sent_at) AS at FROM handoffs h
    JOIN outbox o ON o.conversation_key = h.key AND o.idempotency_key LIKE 'agent:%%'
        AND o.sent_at IS NOT NULL AND o.created_at >= h.at
        AND (h.next_at IS NULL OR o.created_at < h.next_at)
    GROUP BY h.id),
followed AS (
    SELECT h.id,
        min(e.at) FILTER (WHERE e.kind = 'transition' AND e.actor LIKE 'agent:%%'
            AND e.from_state = ANY(%(human)s) AND e.to_state = ANY(%(handed_back)s)) AS handed_back_at,
        array_agg(ARRAY[coalesce(e.payload->>'which', '?'), coalesce(e.payload->>'cause', 'unknown')]
            ORDER BY e.id) FILTER (WHERE e.kind = 'sla_miss') AS misses
    FROM handoffs h JOIN desk_events e ON e.conversation_key = h.key AND e.at >= h.at
        AND (h.next_at IS NULL OR e.at < h.next_at) AND e.kind IN ('transition', 'sla_miss')
    GROUP BY h.id)
SELECT h.key, h.at, h.reason, r.at AS first_agent_reply_at, f.handed_back_at, f.misses
FROM handoffs h LEFT JOIN replies r ON r.id = h.id LEFT JOIN followed f ON f.id = h.id
ORDER BY h.at, h.id"""


async def escalations(conn: Conn, starts: Sequence[tuple[str, datetime]]) -> dict[str, Escalation]:
    """For each (conversation key, first message in the window) that met the desk: when a human
    first took part and when an agent first resolved it, at or after that message (a key
    missing from the answer: neither). One read of the transitions since the earliest start,
    matched here: a week's are a few thousand rows."""
    if not starts:
        return {}
    moves: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for r in await (await conn.execute(_TRANSITIONS, {
            "since": min(at for _, at in starts),
            "states": [*_HUMAN, str(DeskState.CLOSED)]})).fetchall():
        moves[r["key"]].append((r["at"], r["to_state"]))

    def first(key: str, start: datetime, states: Sequence[str]) -> datetime | None:
        return min((at for at, state in moves.get(key, ()) if at >= start and state in states),
                   default=None)

    return {key: Escalation(key, first(key, start, _HUMAN), first(key, start, [str(DeskState.CLOSED)]))
            for key, start in starts if key in moves}


async def handoffs(conn: Conn, since: datetime, until: datetime) -> list[Handoff]:
    """The handoffs made in [since, until), oldest first, each followed to the next one."""
    rows = await (await conn.execute(_HANDOFFS, {
        "since": since, "until": until, "human": _HUMAN, "handed_back": _HANDED_BACK})).fetchall()
    return [Handoff(r["key"], r["at"], r["reason"], r["first_agent_reply_at"],
                    r["handed_back_at"], tuple((m[0], m[1]) for m in r["misses"] or ()))
            for r in rows]


async def ratings(conn: Conn, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
    """CSAT scores given in [since, until): (when rated, score 1-5)."""
    rows = await (await conn.execute(
        "SELECT rated_at, score FROM desk_csat WHERE score IS NOT NULL AND rated_at >= %s"
        " AND rated_at < %s ORDER BY rated_at", (since, until))).fetchall()
    return [(r["rated_at"], int(r["score"])) for r in rows]
