"""What an agent does in the console: read the queue and transcripts, claim, take over, assign,
transfer, reply, note, resolve, and hand back to the bot. Every change is an event with who and
why. A conversation another agent is working on changes hands only explicitly: a supervisor
assigns it, or an agent takes it over (recorded as taken_over, from whom to whom); any other
change to it is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from graph import window
from server import conversation_ids, outbox
from server.desk import csat as csat_record
from server.desk import events
from server.desk.desk import (
    CSAT_PROMPT,
    Agent,
    Desk,
    DeskError,
    Invalid,
    NotAllowed,
    NotFound,
)
from server.desk.states import HUMAN_STATES

PRIORITY_ORDER = "CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END"
DEFAULT_TEAM = "support"
"""The team a new handoff goes to (desk_conversations.team's default)."""


def _visible(agent: Agent, row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        raise NotFound("no such conversation")
    if not agent.supervisor and row["team"] != agent.team:
        raise NotAllowed("this conversation belongs to another team")
    return row


def _not_someone_elses(agent: Agent, row: dict[str, Any]) -> None:
    """Refuse to change a conversation another agent is working on (take it over first)."""
    owner = row["assigned_agent"]
    if row["state"] == "AGENT" and owner is not None and owner != agent.id:
        raise DeskError(f"{owner} is working on this conversation: use Take over to take it"
                        " from them (they and the event log will see it)")


async def find(desk: Desk, ref: str) -> str:
    """The conversation key behind a URL's opaque ref; anything else (a phone number) is
    not looked up at all."""
    if conversation_ids.is_ref(ref):
        async with desk.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT key FROM desk_conversations WHERE ref = %s", (ref,))).fetchone()
        if row:
            return row["key"]
    raise NotFound("no such conversation")


async def known_teams(desk: Desk) -> list[str]:
    """Teams a conversation may go to: those of active agents, the default and the fallback."""
    async with desk.pool.connection() as conn:
        rows = await (await conn.execute("SELECT DISTINCT team FROM desk_agents WHERE active")).fetchall()
    return sorted({r["team"] for r in rows} | {DEFAULT_TEAM, desk.policy.fallback_team})


async def queue(desk: Desk, agent: Agent, *, state: str | None = None, priority: str | None = None,
                mine: bool = False) -> list[dict[str, Any]]:
    """Human-owned conversations, most urgent first: callbacks promised to customers handed off
    after hours (until answered; the earliest, so the overdue, first), then SLA due time, then
    priority."""
    states = [state] if state else list(HUMAN_STATES)
    async with desk.pool.connection() as conn:
        return await (await conn.execute(
            "SELECT key, ref, phone, state, assigned_agent, team, customer_name, tier, topic, priority,"
            " reason, summary, reference, mode, first_response_due_at, first_response_at,"
            " callback_at, pending_since, last_customer_at, updated_at FROM desk_conversations"
            " WHERE state = ANY(%s) AND (%s OR team = %s) AND (%s::text IS NULL OR priority = %s)"
            " AND (NOT %s OR assigned_agent = %s) ORDER BY"
            " CASE WHEN first_response_at IS NULL THEN callback_at END NULLS LAST,"
            f" first_response_due_at NULLS LAST, {PRIORITY_ORDER}, updated_at",
            (states, agent.supervisor, agent.team, priority, priority, mine, agent.id))).fetchall()


async def view(desk: Desk, agent: Agent, key: str) -> dict[str, Any]:
    """Everything an agent needs: the record, the bot transcript and what happened since."""
    async with desk.pool.connection() as conn:
        row = _visible(agent, await (await conn.execute(
            "SELECT * FROM desk_conversations WHERE key = %s", (key,))).fetchone())
        events = await (await conn.execute(
            "SELECT id, at, actor, kind, from_state, to_state, reason, payload FROM desk_events"
            " WHERE conversation_key = %s ORDER BY id", (key,))).fetchall()
    state = await desk.conversations.state(row["phone"] or key)
    return {"conversation": row, "transcript": transcript(state.get("messages", [])),
            "events": events, "customer": state.get("customer"),
            "verification": (state.get("verification") or {}).get("status"),
            "citations": state.get("citations") or [], "window_open": window_open(row)}


def transcript(messages: list) -> list[dict[str, Any]]:
    """The graph's messages as the console shows them, tool calls and results included."""
    shown = []
    for message in messages:
        if isinstance(message, HumanMessage):
            shown.append({"from": "customer", "text": message.text})
        elif isinstance(message, ToolMessage):
            shown.append({"from": "tool", "text": message.text})
        elif isinstance(message, AIMessage):
            if message.name and message.name.startswith("agent_"):
                shown.append({"from": "agent", "agent": message.name[6:], "text": message.text})
            elif message.name == "handback":  # nodes.await_human's mark: never sent
                shown.append({"from": "handback", "text": message.text})
            elif message.tool_calls:
                calls = ", ".join(f"{c['name']}({c['args']})" for c in message.tool_calls if c["name"] != "Reply")
                if calls:
                    shown.append({"from": "tool_call", "text": calls})
            else:
                shown.append({"from": "bot", "text": message.text})
    return shown


def window_open(row: dict[str, Any], now: datetime | None = None) -> bool:
    """May an agent write free text to this desk row's customer now?"""
    return window.is_open(row.get("last_customer_at"), now or datetime.now(UTC))


async def _move(desk: Desk, agent: Agent, key: str, *, to_state: str, assigned: str | None,
                 reason: str, expect: tuple[str, ...], team: str | None = None,
                 reassign: bool = False) -> dict[str, Any]:
    """Change state, assignee and team under the row lock; `reassign` (a supervisor's assign)
    may take the conversation from the agent working on it, nothing else may."""
    async with desk.pool.connection() as conn, conn.transaction():
        row = _visible(agent, await desk.lock(conn, key))
        if row["state"] not in expect:
            raise DeskError(f"the conversation is {row['state']}, not {' or '.join(expect)}")
        if not reassign:
            _not_someone_elses(agent, row)
        await conn.execute(
            "UPDATE desk_conversations SET state = %s, assigned_agent = %s, team = coalesce(%s, team),"
            " pending_since = CASE WHEN %s = 'PENDING_AGENT' THEN now() ELSE pending_since END,"
            " updated_at = now() WHERE key = %s", (to_state, assigned, team, to_state, key))
        await desk.event(conn, key, f"agent:{agent.id}", "transition", from_state=row["state"],
                         to_state=to_state, reason=reason,
                         payload={"assigned_agent": assigned, "team": team or row["team"],
                                  "previous_agent": row["assigned_agent"]})
    if row["state"] not in HUMAN_STATES:  # taken over from the bot: a worker pauses the graph
        await desk.wake(key)
    return row


async def claim(desk: Desk, agent: Agent, key: str) -> None:
    """Take a waiting (or bot) conversation; one another agent is working on is refused."""
    await _move(desk, agent, key, to_state="AGENT", assigned=agent.id, reason="claimed",
                expect=("PENDING_AGENT", "BOT", "AGENT"))


async def take_over(desk: Desk, agent: Agent, key: str) -> str:
    """Take a conversation from the teammate working on it, on the record; returns their id."""
    async with desk.pool.connection() as conn, conn.transaction():
        row = _visible(agent, await desk.lock(conn, key))
        previous = row["assigned_agent"]
        if row["state"] != "AGENT" or previous is None:
            raise DeskError("nobody is working on this conversation: claim it instead")
        if previous == agent.id:
            raise DeskError("this conversation is already yours")
        await conn.execute("UPDATE desk_conversations SET assigned_agent = %s, updated_at = now()"
                           " WHERE key = %s", (agent.id, key))
        await desk.event(conn, key, f"agent:{agent.id}", "taken_over", from_state="AGENT",
                         to_state="AGENT", reason=f"taken over from {previous}",
                         payload={"from_agent": previous, "to_agent": agent.id})
    return previous


async def assign(desk: Desk, supervisor: Agent, key: str, agent_id: str) -> None:
    """A supervisor assigns the conversation to an agent."""
    if not supervisor.supervisor:
        raise NotAllowed("only supervisors assign conversations")
    async with desk.pool.connection() as conn:
        target = await (await conn.execute(
            "SELECT team FROM desk_agents WHERE id = %s AND active", (agent_id,))).fetchone()
    if target is None:
        raise Invalid(f"no active agent {agent_id[:60]!r}")
    await _move(desk, supervisor, key, to_state="AGENT", assigned=agent_id, team=target["team"],
                reason=f"assigned by {supervisor.id}", expect=HUMAN_STATES, reassign=True)


async def transfer(desk: Desk, agent: Agent, key: str, team: str) -> None:
    """Send the conversation to another team's queue, unassigned; only to a team that exists."""
    if team not in await known_teams(desk):
        raise Invalid(f"there is no team {team[:60]!r}: pick one from the list")
    await _move(desk, agent, key, to_state="PENDING_AGENT", assigned=None, team=team,
                reason=f"transferred to {team}", expect=HUMAN_STATES)


async def note(desk: Desk, agent: Agent, key: str, text: str) -> None:
    """An internal note on the conversation, for agents only."""
    if not text.strip():
        raise Invalid("a note needs text")
    async with desk.pool.connection() as conn:
        _visible(agent, await desk.row(conn, key))
        await desk.event(conn, key, f"agent:{agent.id}", "note", payload={"text": text.strip()})


async def reply(desk: Desk, agent: Agent, key: str, *, text: str | None = None,
                template: str | None = None) -> None:
    """Send a message as the agent, through the outbox and the 24-hour window rules."""
    now = datetime.now(UTC)
    async with desk.pool.connection() as conn, conn.transaction():
        row = _visible(agent, await desk.lock(conn, key))
        open_window = window_open(row, now)
        _not_someone_elses(agent, row)
        if text and not open_window:
            raise DeskError("the 24-hour window has closed: only an approved template can be sent")
        if not text and not template:
            raise Invalid("write a message or pick a template")
        taken_over = row["state"] not in HUMAN_STATES
        if taken_over or row["assigned_agent"] != agent.id:
            await conn.execute("UPDATE desk_conversations SET state = 'AGENT', assigned_agent = %s,"
                               " updated_at = now() WHERE key = %s", (agent.id, key))
            await desk.event(conn, key, f"agent:{agent.id}", "transition", from_state=row["state"],
                             to_state="AGENT", reason="replied")
        # Recorded without publishing: consoles hear of it once the transaction has committed.
        event_id = await events.record(conn, key, f"agent:{agent.id}", "agent_message",
                                       payload={"text": text, "template": template})
        await outbox.enqueue_reply(
            conn, conversation_key=key, recipient=row["phone"] or key, provider=row["provider"],
            texts=[text] if text else [], idempotency_key=f"agent:{event_id}",
            last_customer_at=row["last_customer_at"] if open_window else now - window.CUSTOMER_WINDOW * 2,
            now=now, window_template={**desk.window_template, **({"name": template} if template else {})})
        await conn.execute("UPDATE desk_conversations SET first_response_at = coalesce(first_response_at, %s)"
                           " WHERE key = %s", (now, key))
    await desk.publish({"ref": conversation_ids.ref(key), "kind": "agent_message"})
    if taken_over:
        await desk.wake(key)


async def _hand_back(desk: Desk, agent: Agent, key: str, *, action: str, notes: str,
                     to_state: str) -> None:
    async with desk.pool.connection() as conn:
        row = _visible(agent, await desk.row(conn, key))
    if row["state"] not in HUMAN_STATES:
        raise DeskError(f"the conversation is {row['state']}")
    _not_someone_elses(agent, row)
    async with desk.pool.connection() as conn:
        exchange = await events.exchange_since_handoff(conn, key)
    try:
        await desk.conversations.resume(row["phone"] or key, {
            "action": action, "agent": agent.id, "notes": notes, "exchange": exchange})
    except LookupError as error:
        raise DeskError("the bot is still finishing its turn; try again in a moment") from error
    async with desk.pool.connection() as conn, conn.transaction():
        await conn.execute("UPDATE desk_conversations SET state = %s, assigned_agent = NULL,"
                           " updated_at = now() WHERE key = %s", (to_state, key))
        await desk.event(conn, key, f"agent:{agent.id}", "transition", from_state=row["state"],
                         to_state=to_state, reason=action, payload={"notes": notes})


async def return_to_bot(desk: Desk, agent: Agent, key: str, notes: str = "") -> None:
    """Resume the graph: the bot continues, with the human exchange and notes in context."""
    await _hand_back(desk, agent, key, action="return_to_bot", notes=notes, to_state="BOT")


async def resolve(desk: Desk, agent: Agent, key: str, *, csat: bool = False) -> None:
    """Close the conversation; with `csat`, ask the customer for a rating if the window is open."""
    await _hand_back(desk, agent, key, action="resolved", notes="", to_state="CLOSED")
    if csat:
        now = datetime.now(UTC)
        async with desk.pool.connection() as conn, conn.transaction():
            row = await desk.row(conn, key)
            if row is not None and window_open(row, now):
                await outbox.enqueue_reply(
                    conn, conversation_key=key, recipient=row["phone"] or key, provider=row["provider"],
                    texts=[CSAT_PROMPT], idempotency_key=f"csat:{key}:{row['updated_at'].isoformat()}",
                    last_customer_at=row["last_customer_at"], now=now,
                    window_template=desk.window_template)
                await desk.event(conn, key, f"agent:{agent.id}", "csat", payload={"asked": True})
                await csat_record.ask(conn, key, agent.id, now)  # the reply is rated against them
