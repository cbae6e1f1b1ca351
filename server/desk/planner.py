"""How a handoff will go, decided before the desk row exists: warm or cold, priority, SLA due
times, the promised wait, and the console link agents open.

This is the desk's side that the graph calls (graph/services.py `HandoffPlanner`): it reads only
the SLA policy and who is online, so it is built before `Services` and needs no Conversations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graph.base.sql import Pool, required
from graph.state import HandoffPlan
from server import conversation_ids
from server.desk.sla import SlaPolicy

AGENT_ONLINE_WITHIN = timedelta(minutes=2)
"""An agent whose console was seen this recently counts as online (a warm handoff)."""


class DeskPlanner:
    """Plans handoffs for the desk: the SLA policy applied to one handoff, and its permalink."""

    def __init__(self, pool: Pool, policy: SlaPolicy, *, public_url: str = "",
                 agent_online_within: timedelta = AGENT_ONLINE_WITHIN):
        self.pool, self.policy = pool, policy
        self.public_url = public_url.rstrip("/")
        self.agent_online_within = agent_online_within

    def permalink(self, key: str) -> str:
        """The console page of a conversation: by its opaque ref, never the phone number."""
        return f"{self.public_url}/console/c/{conversation_ids.ref(key)}"

    async def agents_online(self, team: str | None = None, now: datetime | None = None) -> int:
        """Active agents seen within `agent_online_within` (of `team`, or of any team)."""
        since = (now or datetime.now(UTC)) - self.agent_online_within
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT count(*) AS n FROM desk_agents WHERE active AND last_seen_at >= %s"
                " AND (%s::text IS NULL OR team = %s)", (since, team, team))).fetchone()
        return required(row)["n"]

    async def plan(self, *, tier: str, topic: str, reason: str, now: datetime) -> HandoffPlan:
        """How a handoff will go: warm with an agent online in business hours, else cold. The
        SLA clock counts open time only, so after hours it starts at the next opening, and the
        promised time is then a callback (see SlaPolicy.callback_at)."""
        first_due, resolution_due = self.policy.due(tier, topic, now)
        warm = self.policy.is_open(now) and await self.agents_online(now=now) > 0
        callback = self.policy.callback_at(now, first_due)
        return {"mode": "warm" if warm else "cold",
                "priority": self.policy.priority(tier, topic, reason),
                "first_response_due_at": first_due.isoformat(),
                "resolution_due_at": resolution_due.isoformat(),
                "callback_at": callback.isoformat() if callback else None,
                "eta": self.policy.eta_text(first_due, now)}
