"""The escalation watcher: a periodic job that keeps handed-off conversations inside their SLA.

Each run, for every conversation on the desk (optionally only some teams):
- sla_miss: records a missed first response (cause no_agent_online, unclaimed or
  claimed_no_reply) or a missed resolution (cause unresolved), once per due time;
- reassigned: an AGENT conversation whose agent went offline (not seen for
  agent_offline_after, or deactivated) goes back to the queue;
- rerouted: a PENDING_AGENT conversation waiting longer than reroute_after of its team's open
  time moves to the policy's fallback team one priority step higher, but only while that team
  is open and has active members: a conversation is never sent to a queue nobody reads. A
  handoff made after hours therefore stays in its own team's queue overnight (with its callback
  time, listed first when the desk opens), and its wait counts from the opening;
- sla_warning: an unclaimed conversation within warn_before of breaching its first-response
  target is announced to the notifier (Slack), once per due time.

What was done is read from desk_events, so a run can be repeated at will. Any number of workers
may run it: a state change locks its row (FOR UPDATE SKIP LOCKED) and is made with
UPDATE ... WHERE state = <expected>; a warning holds a per-conversation advisory lock while it
posts, so it is sent once, and it is recorded only after the post succeeded (a failed post is
tried again on the next run, until the target is breached).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from graph.base.sql import Conn, Pool, required
from server.availability import Availability
from server.conversation_ids import for_log
from server.desk import events
from server.desk.notify import Alert, Notifier
from server.desk.sla import SlaPolicy, bump
from server.desk.states import HUMAN_STATES, DeskState
from server.loop import run_until_stopped
from server.metrics import SLA_MISSES, label

log = logging.getLogger(__name__)
_SLA_KINDS = frozenset({"first_response", "resolution"})

UNRESOLVED_STATES = (*HUMAN_STATES, DeskState.DORMANT)
"""States that count as not resolved once resolution_due_at has passed (BOT: back with the
bot, CLOSED: done)."""


def due_text(at: datetime) -> str:
    """The canonical form of a due time in event payloads (matches _DUE_SQL)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _due_sql(column: str) -> str:
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


_TEAMS = "(%(teams)s::text[] IS NULL OR c.team = ANY(%(teams)s::text[]))"


def _not_recorded(kind: str, column: str, which: str | None = None) -> str:
    which_sql = f" AND e.payload->>'which' = '{which}'" if which else ""
    return (f"NOT EXISTS (SELECT 1 FROM desk_events e WHERE e.conversation_key = c.key"
            f" AND e.kind = '{kind}'{which_sql} AND e.payload->>'due_at' = {_due_sql(column)})")


class SlaWatcher:
    """Watches due times: warns before a breach, records breaches, reroutes orphaned
    conversations."""

    def __init__(self, pool: Pool, policy: SlaPolicy, notifier: Notifier, *,
                 warn_before: timedelta = timedelta(minutes=5),
                 reroute_after: timedelta = timedelta(minutes=5),
                 agent_offline_after: timedelta = timedelta(minutes=2),
                 teams: Collection[str] | None = None, batch: int = 200):
        """`teams` limits the watcher to conversations of those teams (None: every team);
        `batch` caps how many conversations each action handles per run."""
        self.pool, self.policy, self.notifier = pool, policy, notifier
        self.warn_before, self.reroute_after = warn_before, reroute_after
        self.agent_offline_after = agent_offline_after
        self.teams = sorted(teams) if teams is not None else None
        self.batch = batch

    async def run_forever(self, stop: asyncio.Event, every_s: float = 30) -> None:
        """Run a pass every `every_s` until `stop`; a failed pass is tried again next time."""
        async def step() -> float:
            counts = await self.run_once(datetime.now(UTC))
            if any(counts.values()):
                log.info("SLA watcher: %s", ", ".join(f"{k} {v}" for k, v in counts.items() if v))
            return every_s

        # An outage waits for the next run, as a bug does: passes are far apart anyway.
        availability = Availability(log, "SLA watcher", min_pause_s=every_s, max_pause_s=every_s)
        await run_until_stopped(step, stop, availability, bug_pause_s=every_s)

    async def run_once(self, now: datetime | None = None) -> dict[str, int]:
        """One pass at `now` (default: the current time). Returns how many of each action it took:
        sla_miss, reassigned, rerouted, sla_warning."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        # Misses first, so their cause describes the conversation before this run changed it.
        return {"sla_miss": await self._misses(now),
                "reassigned": await self._orphans(now),
                "rerouted": await self._reroutes(now),
                "sla_warning": await self._warnings(now)}

    # --- sla_miss --------------------------------------------------------------------------

    async def _misses(self, now: datetime) -> int:
        """Record each missed SLA; switchboard_sla_misses_total counts those committed."""
        done = 0
        for row in await self._candidates(f"""
            SELECT c.key, 'first_response' AS which, c.first_response_due_at AS due_at
            FROM desk_conversations c
            WHERE c.state = ANY(%(waiting)s) AND c.first_response_at IS NULL
              AND c.first_response_due_at < %(now)s AND {_TEAMS}
              AND {_not_recorded('sla_miss', 'c.first_response_due_at', 'first_response')}
            UNION ALL
            SELECT c.key, 'resolution' AS which, c.resolution_due_at AS due_at
            FROM desk_conversations c
            WHERE c.state = ANY(%(unresolved)s) AND c.resolution_due_at < %(now)s AND {_TEAMS}
              AND {_not_recorded('sla_miss', 'c.resolution_due_at', 'resolution')}
            ORDER BY due_at LIMIT %(batch)s""", now):
            if await self._guarded(self._miss, row["key"], row["which"], now):
                SLA_MISSES.labels(kind=label(row["which"], _SLA_KINDS)).inc()
                done += 1
        return done

    async def _miss(self, conn: Conn, key: str, which: str, now: datetime) -> bool:
        c = await self._lock(conn, key)
        if c is None:
            return False
        if which == "first_response":
            due = c["first_response_due_at"]
            if c["state"] not in HUMAN_STATES or c["first_response_at"] is not None:
                return False
        else:
            due = c["resolution_due_at"]
            if c["state"] not in UNRESOLVED_STATES:
                return False
        if due is None or not now > due or await self._recorded(conn, key, "sla_miss", due, which):
            return False
        online = await self._agents_online(conn, c["team"], now)
        if which == "resolution":
            cause = "unresolved"
        elif c["state"] == DeskState.AGENT and c["assigned_agent"] is not None:
            cause = "claimed_no_reply"
        else:
            cause = "unclaimed" if online else "no_agent_online"
        await self._event(conn, key, now, "sla_miss", c["state"], c["state"], cause, {
            "which": which, "due_at": due_text(due), "cause": cause,
            "late_s": round((now - due).total_seconds()), "team": c["team"],
            "assigned_agent": c["assigned_agent"], "agents_online": online, "tier": c["tier"],
            "topic": c["topic"], "priority": c["priority"]})
        return True

    # --- reassigned ------------------------------------------------------------------------

    async def _orphans(self, now: datetime) -> int:
        return await self._act_on_each(f"""
            SELECT c.key FROM desk_conversations c JOIN desk_agents a ON a.id = c.assigned_agent
            WHERE c.state = 'AGENT' AND {_TEAMS}
              AND (NOT a.active OR a.last_seen_at IS NULL OR a.last_seen_at < %(seen_after)s)
            ORDER BY c.first_response_due_at NULLS LAST LIMIT %(batch)s""", now, self._orphan)

    async def _orphan(self, conn: Conn, key: str, now: datetime) -> bool:
        c = await self._lock(conn, key)
        if c is None or c["state"] != DeskState.AGENT or c["assigned_agent"] is None:
            return False
        agent = await (await conn.execute(
            "SELECT id, active, last_seen_at FROM desk_agents WHERE id = %s",
            (c["assigned_agent"],))).fetchone()
        seen = agent["last_seen_at"] if agent else None
        if agent and agent["active"] and seen is not None and seen >= now - self.agent_offline_after:
            return False
        moved = await conn.execute(
            "UPDATE desk_conversations SET state = 'PENDING_AGENT', assigned_agent = NULL,"
            " pending_since = %s, updated_at = %s"
            " WHERE key = %s AND state = 'AGENT' AND assigned_agent = %s",
            (now, now, key, c["assigned_agent"]))
        if moved.rowcount != 1:
            return False
        why = "agent_inactive" if agent and not agent["active"] else "agent_offline"
        await self._event(conn, key, now, "reassigned", DeskState.AGENT, DeskState.PENDING_AGENT, why, {
            "previous_agent": c["assigned_agent"], "team": c["team"],
            "last_seen_at": seen.isoformat() if seen else None})
        return True

    # --- rerouted --------------------------------------------------------------------------

    async def _reroutes(self, now: datetime) -> int:
        if not await self._routable(self.policy.fallback_team, now):
            return 0  # everything stays in its own team's queue
        # Waiting counts open time only (in each team's hours): a conversation is due to move
        # when it has waited since before its team's cutoff.
        return await self._act_on_each(f"""
            SELECT c.key FROM desk_conversations c
            WHERE c.state = 'PENDING_AGENT' AND c.team <> %(fallback)s AND {_TEAMS}
              AND c.pending_since < coalesce((SELECT x.cutoff FROM unnest(%(cutoff_teams)s::text[],
                  %(cutoffs)s::timestamptz[]) AS x(team, cutoff) WHERE x.team = c.team), %(cutoff)s)
            ORDER BY c.pending_since LIMIT %(batch)s""", now, self._reroute)

    def _reroute_cutoff(self, now: datetime, team: str | None) -> datetime:
        """Conversations of `team` pending since before this have waited longer than
        reroute_after of the team's open time."""
        return self.policy.business_time_before(now, self.reroute_after, team)

    async def _routable(self, team: str, now: datetime) -> bool:
        """May conversations be moved to `team` now: it is open and has active members."""
        if not self.policy.is_open(now, team):
            return False
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT EXISTS (SELECT 1 FROM desk_agents WHERE team = %s AND active) AS staffed",
                (team,))).fetchone()
        return required(row)["staffed"]

    async def _reroute(self, conn: Conn, key: str, now: datetime) -> bool:
        c = await self._lock(conn, key)
        fallback = self.policy.fallback_team
        if (c is None or c["state"] != DeskState.PENDING_AGENT or c["team"] == fallback
                or c["pending_since"] is None
                or c["pending_since"] >= self._reroute_cutoff(now, c["team"])):
            return False
        priority = bump(c["priority"])
        moved = await conn.execute(
            "UPDATE desk_conversations SET team = %s, priority = %s, assigned_agent = NULL,"
            " pending_since = %s, updated_at = %s"
            " WHERE key = %s AND state = 'PENDING_AGENT' AND team = %s AND pending_since = %s",
            (fallback, priority, now, now, key, c["team"], c["pending_since"]))
        if moved.rowcount != 1:
            return False
        await self._event(conn, key, now, "rerouted", DeskState.PENDING_AGENT, DeskState.PENDING_AGENT, "unclaimed", {
            "from_team": c["team"], "to_team": fallback, "from_priority": c["priority"],
            "to_priority": priority, "previous_agent": c["assigned_agent"],
            "pending_since": c["pending_since"].isoformat(),
            "waited_s": round((now - c["pending_since"]).total_seconds()),
            "waited_open_s": round(self.policy.business_time_between(
                c["pending_since"], now, c["team"]).total_seconds())})
        return True

    # --- sla_warning -----------------------------------------------------------------------

    async def _warnings(self, now: datetime) -> int:
        return await self._act_on_each(f"""
            SELECT c.key FROM desk_conversations c
            WHERE c.state = 'PENDING_AGENT' AND c.assigned_agent IS NULL
              AND c.first_response_at IS NULL AND c.first_response_due_at > %(now)s
              AND c.first_response_due_at <= %(warn_until)s AND {_TEAMS}
              AND {_not_recorded('sla_warning', 'c.first_response_due_at')}
            ORDER BY c.first_response_due_at LIMIT %(batch)s""", now, self._warning)

    async def _warning(self, conn: Conn, key: str, now: datetime) -> bool:
        # An advisory lock, not a row lock: the post may take seconds and must not block an
        # agent claiming the conversation meanwhile.
        locked = await (await conn.execute(
            "SELECT pg_try_advisory_xact_lock(hashtext('switchboard.sla_warning'), hashtext(%s))"
            " AS ok", (key,))).fetchone()
        if not required(locked)["ok"]:
            return False
        c = await (await conn.execute(
            "SELECT * FROM desk_conversations WHERE key = %s", (key,))).fetchone()
        due = c["first_response_due_at"] if c else None
        if (c is None or c["state"] != DeskState.PENDING_AGENT or c["assigned_agent"] is not None
                or c["first_response_at"] is not None or due is None
                or not now < due <= now + self.warn_before
                or await self._recorded(conn, key, "sla_warning", due)):
            return False
        minutes = (due - now).total_seconds() / 60
        alert = Alert(key=key, customer=c["customer_name"], priority=c["priority"],
                      reason=c["reason"], team=c["team"], due_at=due, minutes_to_breach=minutes,
                      tier=c["tier"], topic=c["topic"])
        if not await self.notifier.send(alert):
            return False  # not recorded: the next run tries again until the target is breached
        await self._event(conn, key, now, "sla_warning", c["state"], c["state"], "near_breach", {
            "due_at": due_text(due), "minutes_to_breach": round(minutes, 1), "team": c["team"],
            "priority": c["priority"]})
        return True

    # --- helpers ---------------------------------------------------------------------------

    async def _candidates(self, sql: str, now: datetime) -> list[dict[str, Any]]:
        params = {"now": now, "teams": self.teams, "batch": self.batch,
                  "waiting": list(HUMAN_STATES), "unresolved": list(UNRESOLVED_STATES),
                  "seen_after": now - self.agent_offline_after,
                  "cutoff": self._reroute_cutoff(now, None),
                  "cutoff_teams": list(self.policy.team_hours),
                  "cutoffs": [self._reroute_cutoff(now, t) for t in self.policy.team_hours],
                  "fallback": self.policy.fallback_team, "warn_until": now + self.warn_before}
        async with self.pool.connection() as conn:
            return await (await conn.execute(sql, params)).fetchall()

    async def _act_on_each(self, sql: str, now: datetime, action, *columns: str) -> int:
        """Run `action` on each conversation the query finds (with the named columns, then
        `now`), each in its own transaction; how many it changed."""
        done = 0
        for row in await self._candidates(sql, now):
            done += await self._guarded(action, row["key"], *(row[c] for c in columns), now)
        return done

    async def _guarded(self, action, key: str, *args: Any) -> int:
        """Run one action on one conversation in its own transaction; a failure (a foreign row
        the action cannot handle, a lost connection) is logged and skipped, not fatal."""
        try:
            async with self.pool.connection() as conn, conn.transaction():
                return int(await action(conn, key, *args))
        except Exception:
            log.exception("SLA watcher: %s failed for conversation %s", action.__name__, for_log(key))
            return 0

    @staticmethod
    async def _lock(conn: Conn, key: str) -> dict[str, Any] | None:
        """The conversation, locked for this transaction; None if missing or locked elsewhere
        (another worker or the console is changing it: it is looked at again next run)."""
        return await (await conn.execute(
            "SELECT * FROM desk_conversations WHERE key = %s FOR UPDATE SKIP LOCKED",
            (key,))).fetchone()

    @staticmethod
    async def _recorded(conn: Conn, key: str, kind: str, due: datetime,
                        which: str | None = None) -> bool:
        row = await (await conn.execute(
            "SELECT 1 FROM desk_events WHERE conversation_key = %s AND kind = %s"
            " AND payload->>'due_at' = %s AND (%s::text IS NULL OR payload->>'which' = %s)"
            " LIMIT 1", (key, kind, due_text(due), which, which))).fetchone()
        return row is not None

    async def _agents_online(self, conn: Conn, team: str, now: datetime) -> int:
        row = await (await conn.execute(
            "SELECT count(*) AS n FROM desk_agents WHERE team = %s AND active"
            " AND last_seen_at >= %s", (team, now - self.agent_offline_after))).fetchone()
        return required(row)["n"]

    @staticmethod
    async def _event(conn: Conn, key: str, now: datetime, kind: str,
                     from_state: str | None, to_state: str | None, reason: str,
                     payload: dict[str, Any]) -> None:
        await events.record(conn, key, "system", kind, at=now, from_state=from_state,
                            to_state=to_state, reason=reason, payload=payload)
