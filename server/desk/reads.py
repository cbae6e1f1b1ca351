"""What agents see on the desk: the queue, one conversation with its transcript and events,
and the lookups behind the console (a URL's ref, who may see what, teams, active agents). Reads
only; server/desk/actions.py changes things."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from graph import window
from graph.base.conversation import ConversationId
from server import conversation_ids
from server.consent import store as consent
from server.desk.desk import Agent, Desk, NotAllowed, NotFound
from server.desk.states import HUMAN_STATES, Priority

PRIORITY_ORDER = "CASE priority " + " ".join(
    f"WHEN '{p}' THEN {len(Priority) - 1 - p.rank}" for p in Priority if p is not Priority.LOW) + " ELSE 3 END"
"""ORDER BY fragment: urgent first, low last (the Priority enum's order, reversed)."""
DEFAULT_TEAM = "support"
"""The team a new handoff goes to (desk_conversations.team's default)."""


def _visible(agent: Agent, row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        raise NotFound("no such conversation")
    if not agent.supervisor and row["team"] != agent.team:
        raise NotAllowed("this conversation belongs to another team")
    return row


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


async def check_visible(desk: Desk, agent: Agent, key: str) -> None:
    """Raise NotFound (no desk row) or NotAllowed (another team's) unless the agent may see
    the conversation."""
    async with desk.pool.connection() as conn:
        _visible(agent, await desk.row(conn, key))


async def visible_by_ref(desk: Desk, agent: Agent, ref: str) -> bool:
    """Whether the agent may see the conversation behind an opaque ref (live updates)."""
    async with desk.pool.connection() as conn:
        row = await (await conn.execute(
            "SELECT team FROM desk_conversations WHERE ref = %s", (ref,))).fetchone()
    return bool(row and (agent.supervisor or row["team"] == agent.team))


async def active_agents(desk: Desk) -> list[dict[str, Any]]:
    """Active agents (id, name, team, role), by team: whom a supervisor may assign to."""
    async with desk.pool.connection() as conn:
        return await (await conn.execute(
            "SELECT id, name, team, role FROM desk_agents WHERE active ORDER BY team, id")).fetchall()


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
        consent_row = await consent.status_of(conn, key)
    state = await desk.conversations.state(ConversationId(key))
    return {"conversation": row, "transcript": transcript(state.get("messages", [])),
            "earlier_messages": state.get("earlier_messages", 0),  # dropped by the window
            "events": events, "customer": state.get("customer"),
            "verification": (state.get("verification") or {}).get("status"),
            "citations": state.get("citations") or [], "window_open": window_open(row),
            "consent": consent_row}


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
