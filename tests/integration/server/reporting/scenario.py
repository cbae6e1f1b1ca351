"""A known week of service, written through the product's writers at chosen times, and every
figure the report must make of it (server/reporting/figures.py has the definitions).

Each scenario lives on two UTC days of its own in the past, in a team of its own, so what other
tests write (at the wall clock's time) never falls in its window. Writers that stamp rows with
the database's now() (the inbox's received_at) get their row moved to the scenario's time.

    A  day 1 09:00  bot reply sent after 5 s; no human                       contained
    B  day 1 10:00  bot reply after 15 s, a second message at 10:05         contained
    C  day 1 11:00  bot 3 s; handoff 11:01 (customer_request); agent claims,
                    replies (sent 11:03:30), resolves 11:20; CSAT 4         SLA met twice
    D  day 2 09:00  bot 4 s; handoff 09:00:30 (complaint), nobody online:
                    first-response miss; agent replies 09:30:10, resolves 10:00; CSAT 2
    E  day 2 12:00  no bot reply; handoff 12:00:10 (customer_request), claimed, never
                    answered: misses claimed_no_reply and unresolved
    G  day 2 14:00  a bot reply queued but never sent
    F  before and after the window only (and a handoff before it): not counted
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from graph.base.audit import AuditEvent, AuditKind, record
from graph.base.sql import Pool
from server import outbox
from server.channels.models import InboundMessage
from server.conversation_ids import ref
from server.desk import csat, events, sla
from server.desk.notify import Alert
from server.desk.sla import SlaPolicy
from server.desk.watcher import SlaWatcher
from server.inbound import inbox

S = timedelta(seconds=1)
M = timedelta(minutes=1)
TEMPLATE = {"name": "order_update_v1", "language": "en"}


class _Quiet:
    """A notifier that accepts every alert (the scenario has no warnings to send)."""

    async def send(self, alert: Alert) -> bool:
        return True


def new_day1() -> datetime:
    """Midnight UTC of a day between 2001 and 2020 that no other test uses."""
    return datetime(2001, 1, 1, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 7000)


class Scenario:
    """One scenario's writes (see the module docstring)."""

    def __init__(self, pool: Pool, day1: datetime | None = None):
        self.pool, self.uid = pool, uuid.uuid4().hex[:8]
        self.day1 = day1 or new_day1()
        self.day2 = self.day1 + timedelta(days=1)
        self.since, self.until = self.day1, self.day1 + timedelta(days=2)
        self.team = f"report-{self.uid}"
        self.fence = 0

    def key(self, name: str) -> str:
        return f"4479{int(self.uid, 16) % 10**7:07d}{'ABCDEFG'.index(name)}"

    # --- writers -----------------------------------------------------------------------

    async def message(self, name: str, at: datetime) -> None:
        """A customer message stored by the inbox, received at `at`."""
        key, message_id = self.key(name), f"wamid.{uuid.uuid4().hex}"
        async with self.pool.connection() as conn:
            await inbox.store_many(conn, [InboundMessage(
                provider="meta", provider_message_id=message_id, conversation_id=key, phone=key,
                business_scoped_user_id=None, profile_name=None, kind="text", text="hello",
                sent_at=at, raw={})])
            await conn.execute("UPDATE inbound_messages SET received_at = %s"
                               " WHERE provider_message_id = %s", (at, message_id))

    async def reply(self, name: str, queued: datetime, sent: datetime | None, *,
                    agent_event: int | None = None) -> None:
        """A reply queued as a bot turn's (or, with `agent_event`, an agent's) and sent."""
        key = self.key(name)
        self.fence += 1
        idempotency = f"agent:{agent_event}" if agent_event else f"{key}:{self.fence}"
        async with self.pool.connection() as conn:
            (row_id,) = await outbox.enqueue_reply(
                conn, conversation_key=key, recipient=key, provider="meta", texts=["hi"],
                idempotency_key=idempotency, last_customer_at=queued, now=queued,
                window_template=TEMPLATE)
            if sent:
                assert await outbox.apply_status(conn, {
                    "outbox_id": row_id, "status": "sent", "at": sent,
                    "provider_message_id": f"wamid.out.{uuid.uuid4().hex}"})

    async def event(self, name: str, at: datetime, actor: str, kind: str,
                    **fields: Any) -> int:
        async with self.pool.connection() as conn:
            return await events.record(conn, self.key(name), actor, kind, at=at, **fields)

    async def handoff(self, name: str, at: datetime, reason: str, **row: Any) -> None:
        """The bot's handoff event (as Desk.open_handoff writes it) and the desk row the SLA
        watcher reads."""
        await self.event(name, at, "bot", "transition", to_state="PENDING_AGENT", reason=reason)
        columns = {"key": self.key(name), "team": self.team, "state": "PENDING_AGENT",
                   "reason": reason, "pending_since": at, "opened_at": at,
                   "first_response_due_at": at + 10 * M, "resolution_due_at": at + 60 * M, **row}
        async with self.pool.connection() as conn:
            await conn.execute(
                f"INSERT INTO desk_conversations ({', '.join(columns)})"
                f" VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT (key) DO UPDATE SET"
                f" {', '.join(f'{c} = excluded.{c}' for c in columns if c != 'key')}",
                tuple(columns.values()))

    async def desk_state(self, name: str, state: str, agent: str | None = None) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("UPDATE desk_conversations SET state = %s, assigned_agent = %s"
                               " WHERE key = %s", (state, agent, self.key(name)))

    async def agent_reply(self, name: str, queued: datetime, sent: datetime) -> None:
        """What actions.reply writes: the agent_message event and the outbox row."""
        event_id = await self.event(name, queued, f"agent:{self.agent}", "agent_message",
                                    payload={"text": "hi"})
        await self.reply(name, queued, sent, agent_event=event_id)

    async def resolve(self, name: str, at: datetime, score: int | None = None) -> None:
        """An agent resolves (the hand-back's transition) and asks for a rating, given 5 min on."""
        await self.event(name, at, f"agent:{self.agent}", "transition", from_state="AGENT",
                         to_state="CLOSED", reason="resolved")
        await self.desk_state(name, "CLOSED")
        if score is not None:
            async with self.pool.connection() as conn:
                await csat.ask(conn, self.key(name), self.agent, at)
                assert await csat.take_reply(conn, self.key(name), [str(score)], at + 5 * M)

    async def model_call(self, name: str | None, at: datetime, cost: float,
                         kind: AuditKind = AuditKind.MODEL_CALL) -> None:
        async with self.pool.connection() as conn:
            await record(conn, AuditEvent(kind=kind, actor="bot", at=at, cost_usd=cost,
                                          model="gpt-test", tokens_in=100, tokens_out=20,
                                          conversation_ref=ref(self.key(name)) if name else None))

    async def watch(self, at: datetime) -> None:
        """One run of the SLA watcher at `at`, on this scenario's team only."""
        policy = replace(SlaPolicy.load(sla.BUNDLED), fallback_team=f"nobody-{self.uid}")
        await SlaWatcher(self.pool, policy, _Quiet(), teams=[self.team]).run_once(at)

    # --- the scenario ------------------------------------------------------------------

    async def seed(self) -> None:
        d1, d2 = self.day1, self.day2
        self.agent = f"sam-{self.uid}"
        async with self.pool.connection() as conn:
            await conn.execute("INSERT INTO desk_agents (id, name, password_hash, role, team)"
                               " VALUES (%s, 'Sam', 'x', 'agent', %s)", (self.agent, self.team))
        # A, B: the bot alone.
        a = d1 + 9 * 60 * M
        await self.message("A", a)
        await self.reply("A", a + 2 * S, a + 5 * S)
        await self.model_call("A", a + S, 0.01)
        b = d1 + 10 * 60 * M
        await self.message("B", b)
        await self.reply("B", b + 10 * S, b + 15 * S)
        await self.message("B", b + 5 * M)
        await self.reply("B", b + 5 * M + S, b + 5 * M + 2 * S)
        await self.model_call("B", b + S, 0.02)
        # C: handed off, answered and resolved in time, rated 4.
        c = d1 + 11 * 60 * M
        await self.message("C", c)
        await self.reply("C", c + S, c + 3 * S)
        await self.handoff("C", c + M, "customer_request")
        await self.event("C", c + 2 * M, f"agent:{self.agent}", "transition",
                         from_state="PENDING_AGENT", to_state="AGENT", reason="claimed")
        await self.desk_state("C", "AGENT", self.agent)
        await self.agent_reply("C", c + 3 * M, c + 3 * M + 30 * S)
        await self.resolve("C", c + 20 * M, score=4)
        # D: nobody online, so the first response is missed; resolved in time, rated 2.
        d = d2 + 9 * 60 * M
        await self.message("D", d)
        await self.reply("D", d + 2 * S, d + 4 * S)
        await self.model_call("D", d + S, 0.03)
        await self.handoff("D", d + 30 * S, "complaint")
        await self.watch(d + 20 * M)
        await self.agent_reply("D", d + 30 * M, d + 30 * M + 10 * S)
        await self.resolve("D", d + 60 * M, score=2)
        # E: no bot reply; claimed but never answered nor resolved.
        e = d2 + 12 * 60 * M
        await self.message("E", e)
        await self.handoff("E", e + 10 * S, "customer_request")
        await self.event("E", e + M, f"agent:{self.agent}", "transition",
                         from_state="PENDING_AGENT", to_state="AGENT", reason="claimed")
        await self.desk_state("E", "AGENT", self.agent)
        await self.watch(e + 20 * M)
        await self.watch(e + 70 * M)
        # G: the bot's reply never went out.
        g = d2 + 14 * 60 * M
        await self.message("G", g)
        await self.reply("G", g + S, None)
        # F: outside the window only; costs outside it or of other kinds do not count.
        await self.message("F", d1 - 60 * M)
        await self.handoff("F", d1 - 30 * M, "customer_request")
        await self.message("F", self.until + 60 * M)
        await self.model_call("F", self.until + S, 0.5)
        await self.model_call("F", d1 - S, 0.5)
        await self.model_call("A", a + 2 * S, 1.0, kind=AuditKind.ROUTE)

    def expected(self) -> dict[str, Any]:
        """Every figure of the report for [day 1, day 3), worked out by hand."""
        return {
            "since": self.since.isoformat(), "until": self.until.isoformat(),
            "conversations": 6,  # A B C D E G
            # bot: A 5, B 15, C 3, D 4 -> sorted 3 4 5 15
            "first_response_seconds": {
                "bot": {"p50": 4.5, "p95": 13.5, "count": 4},
                # human: C 11:01 -> 11:03:30 = 150; D 09:00:30 -> 09:30:10 = 1780
                "human": {"p50": 965.0, "p95": 1698.5, "count": 2}},
            # C 20 min, D 60 min
            "resolution_seconds": {"p50": 2400.0, "p95": 3480.0, "count": 2},
            "containment_rate": 0.3333,  # A, B of six
            "handoffs": 3,
            "handoffs_by_reason": {"complaint": 1, "customer_request": 2},
            "sla": {"met": 3, "missed": 3, "pending": 0,
                    "missed_by_cause": {"claimed_no_reply": 1, "no_agent_online": 1,
                                        "unresolved": 1},
                    "missed_by_target": {"first_response": 2, "resolution": 1}},
            "csat": {"average": 3.0, "count": 2},
            "cost_usd": {"total": 0.06, "per_conversation": 0.01},
            "daily": [
                {"date": self.day1.date().isoformat(), "conversations": 3,
                 "containment_rate": 0.6667, "first_response_p50": 5.0, "handoffs": 1,
                 "csat_average": 4.0, "cost_usd": 0.03},
                {"date": self.day2.date().isoformat(), "conversations": 3,
                 "containment_rate": 0.0, "first_response_p50": 4.0, "handoffs": 2,
                 "csat_average": 2.0, "cost_usd": 0.03}],
        }
