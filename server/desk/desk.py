"""The desk: who owns each conversation (bot or human), and what humans do with it.

The desk row is the authority on ownership, and the `Desk` is the one door to it: the worker
asks it under the row lock in a bot turn's commit (`commit_turn`), so once a conversation is
PENDING_AGENT or AGENT no bot reply can be committed after it; at a turn's start, under the
lease, the graph follows the row (`follow`: paused with `interrupt()` for a human, resumed with
`Command(resume=...)` after a hand-back). Console actions are in actions.py, what agents see
in reads.py; no other package touches the desk tables (docs/desk.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from graph.base import pii
from graph.base.conversation import ConversationId, phone_of
from graph.base.sql import Conn, Pool
from graph.state import Handoff
from nodes import prompts
from server import conversation_ids
from server.conversations import Conversations
from server.desk import bot_turns, events, handback
from server.desk.planner import DeskPlanner
from server.desk.states import HUMAN_STATES, AgentRole, DeskState, Priority
from server.outbox import templates_catalog
from server.outbox.templates_catalog import TemplateCatalog

if TYPE_CHECKING:
    from server.conversations import Turn
    from server.inbound.inbox import StoredMessage

log = logging.getLogger(__name__)
CSAT_PROMPT = prompts.CSAT_PROMPT  # the text lives with the other canned replies (nodes/prompts.py)


class DeskError(Exception):
    """An action that cannot be done now: the message says why, for the agent to read."""

    status = 409


class NotAllowed(DeskError):
    """The agent may not see or change this conversation."""

    status = 403


class NotFound(DeskError):
    """No such conversation on the desk (404)."""

    status = 404


class Invalid(DeskError):
    """The request itself is wrong (an unknown team, an empty note)."""

    status = 400


@dataclass(frozen=True)
class Agent:
    """A console agent: who, their role and team."""

    id: str
    name: str
    role: AgentRole | str
    team: str

    @property
    def supervisor(self) -> bool:
        """Whether the agent sees every team and may assign conversations."""
        return self.role == AgentRole.SUPERVISOR


Publish = Callable[[dict[str, Any]], Awaitable[None]]


async def _no_publish(event: dict[str, Any]) -> None:
    return None


class Desk:
    """The human side: the queue of handed-off conversations, their SLA plan and their events."""

    handback_wait_s = 5.0
    """How long a console hand-back waits for a worker to resume the graph before answering."""

    def __init__(self, pool: Pool, conversations: Conversations, planner: DeskPlanner,
                 *, publish: Publish = _no_publish,
                 templates: TemplateCatalog | None = None,
                 wake: Callable[[str], Awaitable[None]] | None = None):
        self.pool, self.conversations, self.planner = pool, conversations, planner
        self.policy = planner.policy  # the same SLA policy plans handoffs and routes teams
        self.publish = publish
        self.templates = templates or templates_catalog.load()
        """The approved templates: what agents may send, and the window template in each language."""
        self._wake = wake

    # --- The bot's side: called by the worker's commit (plans: server/desk/planner.py) ---

    async def wake(self, key: str) -> bool:
        """Have a worker look at the conversation now (to pause the graph for a human, or to
        resume it after a hand-back); False when this desk has no workers to wake."""
        if self._wake is None:
            return False
        await self._wake(key)
        return True

    async def row(self, conn: Conn, key: str) -> dict[str, Any] | None:
        """The conversation's desk row (not locked), or None."""
        return await (await conn.execute(
            "SELECT * FROM desk_conversations WHERE key = %s", (key,))).fetchone()

    async def lock(self, conn: Conn, key: str) -> dict[str, Any] | None:
        """The conversation's desk row, locked until the caller's transaction ends."""
        return await (await conn.execute(
            "SELECT * FROM desk_conversations WHERE key = %s FOR UPDATE", (key,))).fetchone()

    async def human_owns(self, key: str) -> bool:
        """Whether a human owns the conversation now (the agent loop's should_yield)."""
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT state FROM desk_conversations WHERE key = %s", (key,))).fetchone()
        return bool(row and row["state"] in HUMAN_STATES)

    async def open_handoff(self, conn: Conn, *, key: str, phone: str | None,
                           provider: str, payload: Handoff, now: datetime,
                           turn: int | None = None) -> None:
        """Record a bot handoff (inside the worker's commit): the conversation is PENDING_AGENT.
        `turn`: the bot turn that handed off (State.turn), for the audit trail."""
        customer: dict[str, Any] = dict(payload.get("customer") or {})
        await conn.execute(
            "INSERT INTO desk_conversations (key, phone, provider, state, customer_name, tier, topic,"
            " priority, reason, summary, handoff, reference, mode, first_response_due_at,"
            " resolution_due_at, callback_at, pending_since, last_customer_at, opened_at, updated_at)"
            " VALUES (%(key)s, %(phone)s, %(provider)s, %(state)s, %(name)s, %(tier)s, %(topic)s,"
            " %(priority)s, %(reason)s, %(summary)s, %(handoff)s, %(reference)s, %(mode)s,"
            " %(first)s, %(resolution)s, %(callback)s, %(now)s, %(now)s, %(now)s, %(now)s)"
            " ON CONFLICT (key) DO UPDATE SET state = excluded.state, assigned_agent = NULL,"
            " customer_name = excluded.customer_name, tier = excluded.tier, topic = excluded.topic,"
            " priority = excluded.priority, reason = excluded.reason, summary = excluded.summary,"
            " handoff = excluded.handoff, reference = excluded.reference, mode = excluded.mode,"
            " first_response_due_at = excluded.first_response_due_at, first_response_at = NULL,"
            " resolution_due_at = excluded.resolution_due_at, callback_at = excluded.callback_at,"
            " pending_since = excluded.pending_since,"
            " last_customer_at = excluded.last_customer_at, updated_at = excluded.updated_at",
            {"key": key, "phone": phone, "provider": provider, "state": DeskState.PENDING_AGENT,
             "name": customer.get("name"),
             "tier": customer.get("tier") or "retail", "topic": payload.get("intent"),
             "priority": payload.get("priority", Priority.NORMAL), "reason": payload.get("reason"),
             "summary": payload.get("summary"), "handoff": json.dumps(payload, default=str),
             "reference": payload.get("reference"), "mode": payload.get("mode"),
             "first": payload.get("first_response_due_at"),
             "resolution": payload.get("resolution_due_at"),
             "callback": payload.get("callback_at"), "now": now})
        await self.event(conn, key, "bot", "transition", to_state=DeskState.PENDING_AGENT,
                         reason=payload.get("reason"), payload={"reference": payload.get("reference")},
                         turn=turn)

    async def note_customer(self, conn: Conn, key: str, texts: list[str],
                            now: datetime) -> None:
        """Customer messages that arrived while a human owns the conversation."""
        for text in texts:  # the console shows them redacted, like the transcript
            await self.event(conn, key, "customer", "customer_message",
                             payload={"text": pii.redact(text)[0]})
        await conn.execute("UPDATE desk_conversations SET last_customer_at = %s, updated_at = %s"
                           " WHERE key = %s", (now, now, key))

    async def commit_turn(self, conn: Conn, turn: Turn, batch: Sequence[StoredMessage], *,
                          key: str, phone: str | None) -> bool:
        """In the turn's commit, under the row lock: may the bot's replies go out? Records a
        handoff, held messages and discarded replies (server/desk/bot_turns.py)."""
        return await bot_turns.commit_turn(self, conn, turn, batch, key=key, phone=phone)

    async def follow(self, key: str) -> None:
        """Under the caller's turn lease: pause the graph for a human owner, or resume it with
        a waiting hand-back (server/desk/handback.py)."""
        await handback.follow(self, key)

    async def sweep(self) -> None:
        """Periodic upkeep: lapsed bot conversations become DORMANT, and hand-backs still
        waiting are woken again (their due entry may have been lost with Redis)."""
        await bot_turns.mark_dormant(self)
        await handback.wake_waiting(self)

    async def set_last_customer_at(self, conn: Conn, key: str, at: datetime) -> None:
        """When the customer really last wrote (late messages: their own time, not arrival)."""
        await bot_turns.set_last_customer_at(conn, key, at)

    async def delivery_problem(self, conn: Conn, *, key: str, recipient: str,
                               provider: str, outbox_id: int, message_kind: str, outcome: str,
                               reason: str, preview: str | None = None) -> None:
        """A message to the customer that may not have arrived, for agents to see in the
        conversation's event log: outcome 'unknown' (no status confirmed it, even after
        resending) or 'failed' / 'dead' (the provider refused it, or retries ran out). Called
        in the outbox's transaction; a conversation without a desk row gets one, so the event
        can be seen."""
        await conn.execute(
            "INSERT INTO desk_conversations (key, phone, provider) VALUES (%s, %s, %s)"
            " ON CONFLICT (key) DO NOTHING", (key, phone_of(ConversationId(key)), provider))
        await self.event(
            conn, key, "system", "delivery_unknown" if outcome == "unknown" else "delivery_failed",
            reason=reason, payload={"outbox_id": outbox_id, "message_kind": message_kind,
                                    "status": outcome, "preview": (preview or "")[:200] or None})

    async def consent_changed(self, conn: Conn, *, key: str, provider: str, kind: str,
                              reason: str, keyword: str | None, confirmed: bool,
                              customer_at: datetime, texts: Sequence[str] = ()) -> None:
        """A customer's opt-out or opt-in (`kind` 'opt_out' / 'opt_in'), or a message written
        while opted out, for agents to see in the event log whoever owns the conversation;
        `texts`: the turn's other messages, which the bot does not answer; `customer_at`: when
        the customer wrote (their 24-hour window). In the turn's transaction; a conversation
        without a desk row gets one."""
        await conn.execute(
            "INSERT INTO desk_conversations (key, phone, provider, last_customer_at)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET last_customer_at ="
            " GREATEST(desk_conversations.last_customer_at, excluded.last_customer_at)",
            (key, phone_of(ConversationId(key)), provider, customer_at))
        await self.event(conn, key, "customer", kind, reason=reason,
                         payload={"keyword": keyword, "confirmed": confirmed})
        if texts:
            await self.note_customer(conn, key, list(texts), datetime.now(UTC))

    async def delivery_problems(self, agent: Agent, *, within: timedelta = timedelta(hours=24),
                                limit: int = 50) -> list[dict[str, Any]]:
        """Conversations the agent may see with a message that failed or whose delivery is
        unknown within `within`, newest first, with the latest problem's reason: the queue
        lists them whoever owns the conversation (a bot reply that never arrived needs a human)."""
        since = datetime.now(UTC) - within
        async with self.pool.connection() as conn:
            return await (await conn.execute(
                "SELECT * FROM (SELECT DISTINCT ON (c.key) c.key, c.ref, c.phone, c.customer_name,"
                " c.state, o.status, o.kind, o.updated_at AS at, e.reason FROM outbox o"
                " JOIN desk_conversations c ON c.key = o.conversation_key"
                " LEFT JOIN LATERAL (SELECT reason FROM desk_events WHERE conversation_key = c.key"
                "  AND kind IN ('delivery_failed', 'delivery_unknown') ORDER BY id DESC LIMIT 1) e ON true"
                " WHERE o.status IN ('failed', 'dead', 'unknown') AND o.kind <> 'read_receipt'"
                " AND o.updated_at >= %s AND (%s OR c.team = %s)"
                " ORDER BY c.key, o.updated_at DESC) p ORDER BY at DESC LIMIT %s",
                (since, agent.supervisor, agent.team, limit))).fetchall()

    async def event(self, conn: Conn, key: str, actor: str, kind: str, *,
                    from_state: str | None = None, to_state: str | None = None,
                    reason: str | None = None, payload: dict[str, Any] | None = None,
                    turn: int | None = None) -> int:
        """Record an event (server/desk/events.py) and tell open consoles; returns its id."""
        event_id = await events.record(conn, key, actor, kind, from_state=from_state,
                                       to_state=to_state, reason=reason, payload=payload, turn=turn)
        await self.publish({"ref": conversation_ids.ref(key), "kind": kind})
        return event_id
