"""The escalation watcher on the real Postgres, alerting a real (local) Slack-style webhook.

The desk tables are shared with other tests and developers, so every test works in teams of its
own (the watcher is limited to them) and only looks at its own keys.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from psycopg.types.json import Jsonb

from server.conversation_ids import ref
from server.database import open_pool
from server.desk.notify import Alert, SlackNotifier
from server.desk.watcher import _due_sql, due_text
from tests.conftest import free_port
from tests.integration.server.desk.conftest import (
    MIN,
    NOTHING,
    NOW,
    PUBLIC_URL,
    Desk,
    Slack,
    counts,
)

pytestmark = pytest.mark.integration


# --- sla_warning --------------------------------------------------------------------------------

async def test_warns_once_about_an_unclaimed_conversation_near_breach(desk: Desk):
    near = await desk.conversation("near", first_response_due_at=NOW + 4 * MIN, priority="high",
                                   customer_name="Ravi <Patel>", reason="chargeback_query",
                                   tier="vip", topic="billing")
    await desk.conversation("later", first_response_due_at=NOW + 6 * MIN)
    await desk.conversation("breached", first_response_due_at=NOW - MIN)  # a miss, not a warning
    await desk.conversation("answered", first_response_due_at=NOW + 2 * MIN,
                            first_response_at=NOW - MIN)
    agent = await desk.agent("ann", seen=NOW)
    await desk.conversation("claimed", state="AGENT", assigned_agent=agent,
                            first_response_due_at=NOW + 2 * MIN)
    watcher = desk.watcher()
    misses = REGISTRY.get_sample_value("switchboard_sla_misses_total", {"kind": "first_response"}) or 0

    assert await watcher.run_once(NOW) == counts(sla_warning=1, sla_miss=1)
    assert REGISTRY.get_sample_value("switchboard_sla_misses_total",
                                     {"kind": "first_response"}) == misses + 1  # /metrics counts it
    [payload] = desk.slack.delivered()
    assert desk.slack.delivered(near) == [payload]
    assert desk.slack.posts[0]["path"] == f"/services/T0000/B0000/{desk.slack.secret}"
    assert desk.slack.posts[0]["content_type"] == "application/json"
    assert "Ravi &lt;Patel&gt;" in payload["text"] and "4 min" in payload["text"]
    [section] = payload["blocks"]
    assert section["type"] == "section"
    fields = "\n".join(f["text"] for f in section["fields"])
    for expected in ("*Customer*\nRavi &lt;Patel&gt;", "*Priority*\nhigh",
                     "*Reason*\nchargeback_query", "*Minutes to breach*\n4"):
        assert expected in fields
    assert f"<{PUBLIC_URL}/console/c/{ref(near)}|Open in the console>" in section["text"]["text"]

    [event] = await desk.events(near, "sla_warning")
    assert event["actor"] == "system" and event["at"] == NOW
    assert event["payload"]["due_at"] == due_text(NOW + 4 * MIN)
    assert event["payload"]["minutes_to_breach"] == 4.0

    # The same due time is never announced twice, however often the watcher runs.
    assert await watcher.run_once(NOW) == NOTHING
    assert await watcher.run_once(NOW + 2 * MIN) == counts(sla_warning=1)  # "later" is now near
    assert len(desk.slack.delivered(near)) == 1
    assert len(await desk.events(near, "sla_warning")) == 1

    # A new handoff brings a new due time, which is announced again.
    await desk.sql("UPDATE desk_conversations SET first_response_due_at = %s WHERE key = %s",
                   NOW + 7 * MIN, near)
    # ("claimed" has an agent, so it was never announced; now it misses its first response.)
    await desk.sql("UPDATE desk_agents SET last_seen_at = %s WHERE id = %s", NOW + 3 * MIN, agent)
    assert await desk.watcher().run_once(NOW + 3 * MIN) == counts(sla_warning=1, sla_miss=1)
    assert len(desk.slack.delivered(near)) == 2


async def test_a_failed_post_is_not_recorded_and_is_tried_again(desk: Desk, caplog):
    key = await desk.conversation("retry", first_response_due_at=NOW + 3 * MIN)
    desk.slack.status = 500
    caplog.set_level(logging.DEBUG)
    watcher = desk.watcher()

    assert await watcher.run_once(NOW) == NOTHING  # the post failed: nothing recorded, no raise
    assert len(desk.slack.posts) == 1 and await desk.events(key, "sla_warning") == []
    assert "refused: HTTP 500" in caplog.text

    desk.slack.status = 200
    assert await watcher.run_once(NOW + MIN) == counts(sla_warning=1)
    assert len(desk.slack.delivered(key)) == 1
    [event] = await desk.events(key, "sla_warning")
    assert event["payload"]["minutes_to_breach"] == 2.0
    # The webhook URL is a secret: not in our logs, nor in httpx's request log line.
    assert "HTTP Request: POST [redacted webhook URL]" in caplog.text
    assert desk.slack.secret not in caplog.text


async def test_an_unreachable_webhook_does_not_stop_the_watcher(desk: Desk, caplog):
    key = await desk.conversation("unreachable", first_response_due_at=NOW + 3 * MIN)
    other = await desk.conversation("stale", pending_since=NOW - 10 * MIN)
    secret = uuid.uuid4().hex
    notifier = SlackNotifier(f"http://127.0.0.1:{free_port()}/services/T/B/{secret}",
                             public_url=PUBLIC_URL, timeout_s=2)
    caplog.set_level(logging.DEBUG)
    assert await desk.watcher(notifier).run_once(NOW) == counts(rerouted=1)
    assert await desk.events(key, "sla_warning") == []
    assert (await desk.row(other))["team"] == desk.fallback
    assert "SLA webhook post for" in caplog.text and "ConnectError" in caplog.text
    assert secret not in caplog.text
    await notifier.aclose()


async def test_without_a_webhook_warnings_are_logged_and_recorded(desk: Desk, caplog):
    key = await desk.conversation("nourl", first_response_due_at=NOW + 5 * MIN)
    caplog.set_level(logging.INFO, logger="server.desk.notify")
    notifier = SlackNotifier(None)
    assert not notifier.enabled
    assert await desk.watcher(notifier).run_once(NOW) == counts(sla_warning=1)
    assert f"SLA warning for {ref(key)}" in caplog.text and key not in caplog.text
    assert len(await desk.events(key, "sla_warning")) == 1
    assert desk.slack.posts == []


# --- rerouted -----------------------------------------------------------------------------------

async def test_reroutes_conversations_pending_too_long(desk: Desk):
    agent = await desk.agent("offered", seen=NOW)
    stale = await desk.conversation("stale", pending_since=NOW - 6 * MIN, assigned_agent=agent)
    high = await desk.conversation("high", pending_since=NOW - 30 * MIN, priority="high")
    urgent = await desk.conversation("urgent", pending_since=NOW - 30 * MIN, priority="urgent")
    fresh = await desk.conversation("fresh", pending_since=NOW - 4 * MIN)
    claimed = await desk.conversation("claimed", state="AGENT", assigned_agent=agent,
                                      pending_since=NOW - 30 * MIN)
    watcher = desk.watcher()

    assert await watcher.run_once(NOW) == counts(rerouted=3)
    row = await desk.row(stale)
    assert (row["team"], row["priority"], row["pending_since"], row["assigned_agent"]) == (
        desk.fallback, "high", NOW, None)
    assert row["state"] == "PENDING_AGENT"
    for key in (high, urgent):
        row = await desk.row(key)
        assert (row["team"], row["priority"]) == (desk.fallback, "urgent")
    [event] = await desk.events(stale, "rerouted")
    assert (event["from_state"], event["to_state"], event["reason"]) == (
        "PENDING_AGENT", "PENDING_AGENT", "unclaimed")
    assert event["payload"].items() >= {"from_team": desk.team, "to_team": desk.fallback,
                                     "from_priority": "normal", "to_priority": "high",
                                     "previous_agent": agent, "waited_s": 360}.items()
    for key in (fresh, claimed):
        assert (await desk.row(key))["team"] == desk.team
        assert await desk.events(key, "rerouted") == []

    # Idempotent: a second run does nothing; once on the fallback team it stays there.
    assert await watcher.run_once(NOW) == NOTHING
    # Six minutes on, "fresh" has waited too long, and "claimed"'s agent has gone quiet.
    assert await watcher.run_once(NOW + 6 * MIN) == counts(rerouted=1, reassigned=1)
    assert len(await desk.events(stale, "rerouted")) == 1
    assert (await desk.row(fresh))["team"] == desk.fallback


# --- reassigned ---------------------------------------------------------------------------------

async def test_orphaned_assignments_go_back_to_the_queue(desk: Desk):
    online = await desk.agent("online", seen=NOW - 30 * timedelta(seconds=1))
    stale = await desk.agent("stale", seen=NOW - 3 * MIN)
    never = await desk.agent("never", seen=None)
    inactive = await desk.agent("inactive", seen=NOW, active=False)
    keys = {}
    for agent in (online, stale, never, inactive):
        name = agent.rsplit("-", 1)[1]
        keys[name] = await desk.conversation(name, state="AGENT", assigned_agent=agent,
                                             first_response_at=NOW - 10 * MIN)
    watcher = desk.watcher()

    assert await watcher.run_once(NOW) == counts(reassigned=3)
    assert (await desk.row(keys["online"]))["assigned_agent"] == online
    for name, agent in (("stale", stale), ("never", never), ("inactive", inactive)):
        row = await desk.row(keys[name])
        assert (row["state"], row["assigned_agent"], row["pending_since"]) == (
            "PENDING_AGENT", None, NOW), name
        [event] = await desk.events(keys[name], "reassigned")
        assert (event["from_state"], event["to_state"]) == ("AGENT", "PENDING_AGENT")
        assert event["payload"]["previous_agent"] == agent
        assert event["reason"] == ("agent_inactive" if name == "inactive" else "agent_offline")

    assert await watcher.run_once(NOW) == NOTHING
    assert [len(await desk.events(k, "reassigned")) for k in keys.values()] == [0, 1, 1, 1]


async def test_a_reassigned_conversation_near_breach_is_announced(desk: Desk):
    gone = await desk.agent("gone", seen=NOW - 10 * MIN)
    key = await desk.conversation("orphan", state="AGENT", assigned_agent=gone,
                                  first_response_due_at=NOW + 3 * MIN)
    assert await desk.watcher().run_once(NOW) == counts(reassigned=1, sla_warning=1)
    assert len(desk.slack.delivered(key)) == 1
    assert [e["kind"] for e in await desk.events(key)] == ["reassigned", "sla_warning"]


# --- sla_miss -----------------------------------------------------------------------------------

async def test_misses_are_recorded_once_with_their_cause(desk: Desk):
    lonely_team = f"other-{desk.uid}"  # nobody of this team is online
    online = await desk.agent("online", seen=NOW - MIN)
    await desk.agent("away", seen=NOW - 10 * MIN, team=lonely_team)
    nobody = await desk.conversation("nobody", team=lonely_team, first_response_due_at=NOW - MIN)
    unclaimed = await desk.conversation("unclaimed", first_response_due_at=NOW - 2 * MIN)
    silent = await desk.conversation("silent", state="AGENT", assigned_agent=online,
                                     first_response_due_at=NOW - 3 * MIN)
    slow = await desk.conversation("slow", state="AGENT", assigned_agent=online,
                                   first_response_at=NOW - 60 * MIN,
                                   first_response_due_at=NOW - 50 * MIN,
                                   resolution_due_at=NOW - 5 * MIN)
    closed = await desk.conversation("closed", state="CLOSED", first_response_due_at=NOW - 9 * MIN,
                                     resolution_due_at=NOW - 5 * MIN)
    bot = await desk.conversation("bot", state="BOT", first_response_due_at=NOW - 9 * MIN,
                                  resolution_due_at=NOW - 5 * MIN)
    on_time = await desk.conversation("ontime", first_response_due_at=NOW + 30 * MIN)
    watcher = desk.watcher()

    assert await watcher.run_once(NOW) == counts(sla_miss=4)
    causes = {}
    for key in (nobody, unclaimed, silent, slow):
        [event] = await desk.events(key, "sla_miss")
        causes[key] = (event["payload"]["which"], event["reason"])
        assert event["payload"]["cause"] == event["reason"]
    assert causes == {nobody: ("first_response", "no_agent_online"),
                      unclaimed: ("first_response", "unclaimed"),
                      silent: ("first_response", "claimed_no_reply"),
                      slow: ("resolution", "unresolved")}
    [event] = await desk.events(silent, "sla_miss")
    assert event["payload"].items() >= {"due_at": due_text(NOW - 3 * MIN), "late_s": 180,
                                     "assigned_agent": online, "agents_online": 1,
                                     "team": desk.team}.items()
    for key in (closed, bot, on_time):
        assert await desk.events(key) == []

    assert await watcher.run_once(NOW + MIN) == NOTHING
    # Later the unanswered ones also miss their resolution target: one more miss each.
    later = NOW + 601 * MIN
    await desk.sql("UPDATE desk_agents SET last_seen_at = %s WHERE id = %s", later, online)
    # Resolution: nobody, unclaimed, silent, on_time; on_time's first response too.
    assert (await watcher.run_once(later))["sla_miss"] == 5
    assert [e["payload"]["which"] for e in await desk.events(silent, "sla_miss")] == [
        "first_response", "resolution"]
    assert (await watcher.run_once(later))["sla_miss"] == 0


# --- several workers, foreign rows, locks -------------------------------------------------------

async def test_concurrent_watchers_act_once(desk: Desk, settings, database_url):
    gone = await desk.agent("gone", seen=NOW - 10 * MIN)
    keys = [await desk.conversation(f"near{i}", first_response_due_at=NOW + (i % 4 + 1) * MIN)
            for i in range(6)]
    keys += [await desk.conversation(f"stale{i}", pending_since=NOW - 7 * MIN) for i in range(4)]
    keys += [await desk.conversation(f"missed{i}", first_response_due_at=NOW - MIN) for i in range(4)]
    keys += [await desk.conversation(f"orphan{i}", state="AGENT", assigned_agent=gone,
                                     first_response_at=NOW - MIN) for i in range(4)]
    other_pool = await open_pool(settings, database_url, max_size=8)
    try:
        watchers = [desk.watcher(pool=p) for p in (desk.pool, other_pool, desk.pool, other_pool)]
        results = await asyncio.gather(*(w.run_once(NOW) for w in watchers))
        totals = {k: sum(r[k] for r in results) for k in NOTHING}
        results = await asyncio.gather(*(w.run_once(NOW) for w in watchers))  # stragglers
        totals = {k: totals[k] + sum(r[k] for r in results) for k in NOTHING}
    finally:
        await other_pool.close()
    assert totals == counts(sla_warning=6, rerouted=4, sla_miss=4, reassigned=4)
    for key in keys:
        kinds = [e["kind"] for e in await desk.events(key)]
        assert len(kinds) == len(set(kinds)) == 1, (key, kinds)
    assert len(desk.slack.delivered()) == 6


async def test_a_conversation_locked_elsewhere_is_left_for_the_next_run(desk: Desk, database_url):
    import psycopg

    key = await desk.conversation("busy", pending_since=NOW - 6 * MIN)
    async with await psycopg.AsyncConnection.connect(database_url) as console:
        await console.execute("SELECT 1 FROM desk_conversations WHERE key = %s FOR UPDATE", (key,))
        assert await desk.watcher().run_once(NOW) == NOTHING  # the console holds the row
        await console.rollback()
    assert await desk.watcher().run_once(NOW) == counts(rerouted=1)


async def test_odd_rows_do_not_stop_a_run(desk: Desk):
    """Rows other code may leave behind: no due times, no pending_since, unknown tier/topic,
    low priority, a pending row with an agent on it."""
    agent = await desk.agent("ann", seen=NOW - 10 * MIN)
    await desk.conversation("nodue", first_response_due_at=None, resolution_due_at=None,
                            pending_since=None, tier="platinum", topic="weird")
    low = await desk.conversation("low", priority="low", pending_since=NOW - 6 * MIN,
                                  tier="platinum", topic=None, customer_name=None, reason=None,
                                  first_response_due_at=NOW + MIN,
                                  handoff=Jsonb({"anything": [1, 2]}))
    await desk.conversation("pendingagent", assigned_agent=agent, first_response_due_at=NOW + MIN)
    await desk.conversation("dormant", state="DORMANT", first_response_due_at=NOW - MIN,
                            resolution_due_at=NOW - MIN)
    result = await desk.watcher().run_once(NOW)
    assert result == counts(rerouted=1, sla_warning=1, sla_miss=1)
    assert (await desk.row(low))["priority"] == "normal"
    [payload] = desk.slack.delivered(low)
    assert "Unknown customer" in payload["text"]
    assert "*Reason*\nnot given" in [f["text"] for f in payload["blocks"][0]["fields"]]


async def test_run_forever_runs_until_stopped(desk: Desk):
    now, desk.always_open = datetime.now(UTC), True
    key = await desk.conversation("forever", pending_since=now - 10 * MIN,
                                  first_response_due_at=now + 60 * MIN)
    stop = asyncio.Event()
    task = asyncio.create_task(desk.watcher().run_forever(stop, every_s=0.05))
    for _ in range(100):
        if await desk.events(key, "rerouted"):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(await desk.events(key, "rerouted")) == 1


# --- the notifier on its own --------------------------------------------------------------------

async def test_slack_notifier_posts_incoming_webhook_json(slack: Slack):
    async with httpx.AsyncClient() as http:
        notifier = SlackNotifier(slack.url, http, public_url=PUBLIC_URL + "/")
        alert = Alert(key="bsuid:US.abc", customer="Amelia Hart", priority="urgent",
                      reason="legal_threat", team="support", due_at=NOW, minutes_to_breach=2.2)
        assert await notifier.send(alert)
        await notifier.aclose()  # not its client: still usable
        assert not http.is_closed
    [post] = slack.posts
    assert set(post["json"]) == {"text", "blocks"}
    assert post["json"] == notifier.payload(alert)
    assert f"{PUBLIC_URL}/console/c/{ref('bsuid:US.abc')}" in post["json"]["text"]
    assert "bsuid" not in json.dumps(post["json"])  # the key itself never reaches Slack
    assert "*Minutes to breach*\n3" in [f["text"] for f in post["json"]["blocks"][0]["fields"]]
    assert slack.secret not in repr(notifier)


async def test_due_times_are_keyed_the_same_in_sql_and_python(pool):
    """Recorded actions are matched on payload->>'due_at': the SQL and Python forms must agree,
    whatever the session's timezone."""
    moments = [NOW, NOW + timedelta(microseconds=123456), datetime(2027, 3, 28, 1, 0, 0, 1, UTC)]
    async with pool.connection() as conn:
        await conn.execute("SET TIME ZONE 'America/New_York'")
        try:
            for moment in moments:
                row = await (await conn.execute(
                    f"SELECT {_due_sql('%s::timestamptz')} AS text", (moment,))).fetchone()
                assert row["text"] == due_text(moment)
        finally:
            await conn.execute("RESET TIME ZONE")
