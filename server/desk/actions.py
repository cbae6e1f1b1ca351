"""What an agent does in the console: claim, take over, assign, transfer, reply, note,
resolve, and hand back to the bot (what they see: server/desk/reads.py). Every change is made
under the desk row's lock and is an event with who and why. A conversation another agent is
working on changes hands only explicitly: a supervisor assigns it, or an agent takes it over
(recorded as taken_over, from whom to whom); any other change to it is refused."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from graph.base.conversation import ConversationId, recipient_of
from nodes.prompts_i18n import localized
from server import conversation_ids, outbox
from server.consent import first_contact
from server.consent import store as consent
from server.desk import csat as csat_record
from server.desk import events, handback
from server.desk.desk import CSAT_PROMPT, Agent, Desk, DeskError, Invalid, NotAllowed
from server.desk.reads import _visible, check_visible, known_teams, window_open
from server.desk.states import HUMAN_STATES, DeskState, HandbackAction, after_handback
from server.outbox import templates_offer


def _not_someone_elses(agent: Agent, row: dict[str, Any]) -> None:
    """Refuse to change a conversation another agent is working on (take it over first)."""
    owner = row["assigned_agent"]
    if row["state"] == DeskState.AGENT and owner is not None and owner != agent.id:
        raise DeskError(f"{owner} is working on this conversation: use Take over to take it"
                        " from them (they and the event log will see it)")


async def _move(desk: Desk, agent: Agent, key: str, *, to_state: DeskState, assigned: str | None,
                 reason: str, expect: tuple[DeskState, ...], team: str | None = None,
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
            " pending_since = CASE WHEN %s THEN now() ELSE pending_since END,"
            " updated_at = now() WHERE key = %s",
            (to_state, assigned, team, to_state == DeskState.PENDING_AGENT, key))
        await desk.event(conn, key, f"agent:{agent.id}", "transition", from_state=row["state"],
                         to_state=to_state, reason=reason,
                         payload={"assigned_agent": assigned, "team": team or row["team"],
                                  "previous_agent": row["assigned_agent"]})
    if row["state"] not in HUMAN_STATES:  # taken over from the bot: a worker pauses the graph
        await desk.wake(key)
    return row


async def claim(desk: Desk, agent: Agent, key: str) -> None:
    """Take a waiting (or bot) conversation; one another agent is working on is refused."""
    await _move(desk, agent, key, to_state=DeskState.AGENT, assigned=agent.id, reason="claimed",
                expect=(DeskState.PENDING_AGENT, DeskState.BOT, DeskState.AGENT))


async def take_over(desk: Desk, agent: Agent, key: str) -> str:
    """Take a conversation from the teammate working on it, on the record; returns their id."""
    async with desk.pool.connection() as conn, conn.transaction():
        row = _visible(agent, await desk.lock(conn, key))
        previous = row["assigned_agent"]
        if row["state"] != DeskState.AGENT or previous is None:
            raise DeskError("nobody is working on this conversation: claim it instead")
        if previous == agent.id:
            raise DeskError("this conversation is already yours")
        await conn.execute("UPDATE desk_conversations SET assigned_agent = %s, updated_at = now()"
                           " WHERE key = %s", (agent.id, key))
        await desk.event(conn, key, f"agent:{agent.id}", "taken_over", from_state=DeskState.AGENT,
                         to_state=DeskState.AGENT, reason=f"taken over from {previous}",
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
    await _move(desk, supervisor, key, to_state=DeskState.AGENT, assigned=agent_id, team=target["team"],
                reason=f"assigned by {supervisor.id}", expect=HUMAN_STATES, reassign=True)


async def transfer(desk: Desk, agent: Agent, key: str, team: str) -> None:
    """Send the conversation to another team's queue, unassigned; only to a team that exists."""
    if team not in await known_teams(desk):
        raise Invalid(f"there is no team {team[:60]!r}: pick one from the list")
    await _move(desk, agent, key, to_state=DeskState.PENDING_AGENT, assigned=None, team=team,
                reason=f"transferred to {team}", expect=HUMAN_STATES)


async def note(desk: Desk, agent: Agent, key: str, text: str) -> None:
    """An internal note on the conversation, for agents only."""
    if not text.strip():
        raise Invalid("a note needs text")
    async with desk.pool.connection() as conn:
        _visible(agent, await desk.row(conn, key))
        await desk.event(conn, key, f"agent:{agent.id}", "note", payload={"text": text.strip()})


async def reply(desk: Desk, agent: Agent, key: str, *, text: str | None = None,
                template: str | None = None, template_language: str = "",
                params: Mapping[str, str] | None = None) -> None:
    """Send a message as the agent, through the outbox and the 24-hour window rules: free text
    while the window is open, or a catalogue template offered for the customer's language
    (server/outbox/templates_offer.py), its parameters filled by name. Refused (409) while the
    customer has opted out; the first text the business ever sends them says who it is
    (server/consent/first_contact.py)."""
    if text and template:
        raise Invalid("send either a message or a template, not both")
    if not text and not template:
        raise Invalid("write a message or pick a template")
    sent: dict[str, Any] | None = None
    shown: dict[str, Any] = {"template": None}
    if template:  # judged before the row lock: the checkpointed state says the customer's language
        await check_visible(desk, agent, key)  # the refusal would say another team's customer's language
        language = await desk.conversations.language(ConversationId(key))
        try:
            entry, sent = templates_offer.fill(desk.templates, language, template, template_language,
                                               params or {})
        except templates_offer.TemplateRefused as refused:
            raise Invalid(str(refused)) from None
        shown = {"template": entry.name, "language": entry.language,
                 "rendered": entry.render({k: v.strip() for k, v in (params or {}).items()})}
    else:  # the first-contact line goes in the language the agent writes in
        language = await desk.conversations.language(ConversationId(key), text or "")
    now = datetime.now(UTC)
    async with desk.pool.connection() as conn, conn.transaction():
        row = _visible(agent, await desk.lock(conn, key))
        _not_someone_elses(agent, row)
        if await consent.is_opted_out(conn, key):
            raise DeskError("the customer opted out (STOP): nothing can be sent to them until"
                            " they reply START")
        if text and not window_open(row, now):
            raise DeskError("the 24-hour window has closed: only an approved template can be sent")
        taken_over = row["state"] not in HUMAN_STATES
        if taken_over or row["assigned_agent"] != agent.id:
            await conn.execute("UPDATE desk_conversations SET state = %s, assigned_agent = %s,"
                               " updated_at = now() WHERE key = %s", (DeskState.AGENT, agent.id, key))
            await desk.event(conn, key, f"agent:{agent.id}", "transition", from_state=row["state"],
                             to_state=DeskState.AGENT, reason="replied")
        # Recorded without publishing: consoles hear of it once the transaction has committed.
        event_id = await events.record(conn, key, f"agent:{agent.id}", "agent_message",
                                       payload={"text": text, **shown})
        where = {"conversation_key": key, "recipient": recipient_of(ConversationId(key)),
                 "provider": row["provider"], "idempotency_key": f"agent:{event_id}", "now": now}
        if sent:
            await outbox.enqueue_template(conn, template=sent, **where)
        else:
            await outbox.enqueue_reply(
                conn, texts=[text or ""], last_customer_at=row["last_customer_at"],
                window_template=desk.templates.reengagement(None),
                introduction=first_contact.line(desk.conversations.services.settings.business,
                                                language), **where)
        await conn.execute("UPDATE desk_conversations SET first_response_at = coalesce(first_response_at, %s)"
                           " WHERE key = %s", (now, key))
    await desk.publish({"ref": conversation_ids.ref(key), "kind": "agent_message"})
    if taken_over:
        await desk.wake(key)


async def _hand_back(desk: Desk, agent: Agent, key: str, *, action: HandbackAction,
                     notes: str, csat: bool = False) -> None:
    """Hand the conversation back under the row lock: the state changes only if a human still
    owns it (so a concurrent hand-back, resolve or take-over is never overwritten), and the
    hand-back waits on the row for the conversation's worker to resume the graph under its
    lease (server/desk/handback.py). The answer waits briefly for that resume."""
    to_state, now = after_handback(action), datetime.now(UTC)
    # Read before the row lock is taken: the checkpointed state says the customer's language.
    language = await desk.conversations.language(ConversationId(key)) if csat else "en"
    async with desk.pool.connection() as conn, conn.transaction():
        row = _visible(agent, await desk.lock(conn, key))
        if row["state"] not in HUMAN_STATES:
            raise DeskError(f"the conversation is {row['state']}")
        _not_someone_elses(agent, row)
        cursor = await conn.execute(
            "UPDATE desk_conversations SET state = %s, assigned_agent = NULL, updated_at = now()"
            " WHERE key = %s RETURNING updated_at", (to_state, key))
        updated_at = (await cursor.fetchone() or {}).get("updated_at", now)
        event_id = await desk.event(conn, key, f"agent:{agent.id}", "transition",
                                    from_state=row["state"], to_state=to_state, reason=action,
                                    payload={"notes": notes})
        await handback.record(conn, key, event_id=event_id, action=action, agent_id=agent.id,
                              notes=notes)
        if csat and window_open(row, now):
            await outbox.enqueue_reply(
                conn, conversation_key=key, recipient=recipient_of(ConversationId(key)), provider=row["provider"],
                texts=[localized(CSAT_PROMPT, language)], idempotency_key=f"csat:{key}:{updated_at.isoformat()}",
                last_customer_at=row["last_customer_at"], now=now,
                window_template=desk.templates.reengagement(language))
            await desk.event(conn, key, f"agent:{agent.id}", "csat", payload={"asked": True})
            await csat_record.ask(conn, key, agent.id, now)  # the reply is rated against them
    if await desk.wake(key):
        await handback.applied(desk, key, desk.handback_wait_s)


async def return_to_bot(desk: Desk, agent: Agent, key: str, notes: str = "") -> None:
    """Hand the conversation back to the bot, with the human exchange and notes in context."""
    await _hand_back(desk, agent, key, action="return_to_bot", notes=notes)


async def resolve(desk: Desk, agent: Agent, key: str, *, csat: bool = False) -> None:
    """Close the conversation; with `csat`, ask the customer for a rating if the window is open."""
    await _hand_back(desk, agent, key, action="resolved", notes="", csat=csat)
