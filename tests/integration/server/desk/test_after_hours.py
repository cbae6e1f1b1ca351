"""After-hours handoffs never vanish: on the real Postgres, with the watcher's clock in hand.

A handoff made while the desk is closed stays in its team's queue with the promised callback
time, is listed first when the desk opens, and its SLA clock and re-routing wait start at the
opening. Re-routing goes only to a team that is open and has active members.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.desk import reads
from server.desk.desk import Agent
from server.desk.desk import Desk as RealDesk
from server.desk.planner import DeskPlanner
from server.desk.sla import BUNDLED, Hours
from tests.integration.server.conftest import text_message
from tests.integration.server.console.conftest import console_for, new_phone, ref_for
from tests.integration.server.desk.conftest import MIN, NOTHING, Desk, counts

pytestmark = pytest.mark.integration

NIGHT = datetime(2026, 11, 18, 23, 30, tzinfo=UTC)  # Wednesday, after the 20:00 closing
OPENING = datetime(2026, 11, 19, 8, 0, tzinfo=UTC)  # Thursday 08:00 in London (GMT)
NOON = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
NIGHTS_ONLY = Hours((((0, 8 * 60), (20 * 60, 24 * 60)),) * 7, frozenset())
"""An on-call team's hours: 20:00 to 08:00 every night."""


async def night_handoff(desk: Desk, name: str, tier: str = "retail") -> str:
    """A handoff recorded by the desk as the worker records one, at NIGHT, in desk's team."""
    real = RealDesk(desk.pool, None, DeskPlanner(desk.pool, desk.policy))
    plan = await real.planner.plan(tier=tier, topic="order_status", reason="customer_request", now=NIGHT)
    key = f"sla-{desk.uid}-{name}"
    async with desk.pool.connection() as conn, conn.transaction():
        await real.open_handoff(conn, key=key, phone=None, provider="meta", now=NIGHT, payload={
            **plan, "reason": "customer_request", "reference": f"H-{name}", "intent": "order_status",
            "customer": {"name": name, "tier": tier}})
    desk.keys.append(key)
    await desk.sql("UPDATE desk_conversations SET team = %s WHERE key = %s", desk.team, key)
    return key


async def test_a_night_handoff_waits_in_its_team_and_its_clocks_start_at_the_opening(desk: Desk):
    key = await night_handoff(desk, "night")
    row = await desk.row(key)
    # Promised "by 10:00 tomorrow": two open hours from the 08:00 opening, kept as the callback.
    assert row["first_response_due_at"] == row["callback_at"] == OPENING + 120 * MIN
    assert row["mode"] == "cold" and row["handoff"]["eta"] == "by 10:00 tomorrow"
    watcher = desk.watcher()  # the fallback team has a member, but it is closed at night too

    for at in (NIGHT + 6 * MIN, NIGHT + 4 * 60 * MIN, OPENING - MIN, OPENING + 4 * MIN):
        assert await watcher.run_once(at) == NOTHING, at
    row = await desk.row(key)
    assert (row["team"], row["state"], row["priority"]) == (desk.team, "PENDING_AGENT", "normal")

    # Five open minutes after the opening nobody has claimed it: now it may move on.
    assert await watcher.run_once(OPENING + 6 * MIN) == counts(rerouted=1)
    [event] = await desk.events(key, "rerouted")
    assert event["payload"]["waited_open_s"] == 360
    assert event["payload"]["waited_s"] == (OPENING + 6 * MIN - NIGHT).total_seconds()


async def test_with_nobody_to_take_it_the_conversation_stays_and_breaches_only_after_the_promise(
        desk: Desk):
    await desk.sql("UPDATE desk_agents SET active = false WHERE team = %s", desk.fallback)
    key = await night_handoff(desk, "unstaffed")
    watcher = desk.watcher()
    assert await watcher.run_once(OPENING + 60 * MIN) == NOTHING  # not re-routed to nobody
    assert await watcher.run_once(OPENING + 116 * MIN) == counts(sla_warning=1)
    assert await watcher.run_once(OPENING + 119 * MIN) == NOTHING  # no breach counted overnight
    assert await watcher.run_once(OPENING + 121 * MIN) == counts(sla_miss=1)
    [miss] = await desk.events(key, "sla_miss")
    assert miss["payload"]["late_s"] == 60
    assert (await desk.row(key))["team"] == desk.team


async def test_callbacks_are_listed_first_the_overdue_at_the_top(desk: Desk):
    night = await night_handoff(desk, "night")
    morning_vip = await desk.conversation("vip", tier="vip", priority="high",
                                          pending_since=OPENING + MIN,
                                          first_response_due_at=OPENING + 16 * MIN)
    overdue = await desk.conversation("overdue", pending_since=NIGHT - 24 * 60 * MIN,
                                      first_response_due_at=OPENING - 22 * 60 * MIN,
                                      callback_at=OPENING - 22 * 60 * MIN)
    answered = await desk.conversation("answered", state="AGENT", callback_at=OPENING,
                                       first_response_due_at=OPENING + 30 * MIN,
                                       first_response_at=OPENING + MIN)
    plain = await desk.conversation("plain", first_response_due_at=OPENING + 200 * MIN)
    real = RealDesk(desk.pool, None, DeskPlanner(desk.pool, desk.policy))
    agent = Agent(id=f"{desk.uid}-ann", name="Ann", role="agent", team=desk.team)
    rows = await reads.queue(real, agent)
    assert [r["key"] for r in rows if r["key"] in desk.keys] == [
        overdue, night, morning_vip, answered, plain]
    assert next(r for r in rows if r["key"] == night)["callback_at"] == OPENING + 120 * MIN


async def test_re_routing_goes_only_to_a_team_that_is_staffed_and_open(desk: Desk):
    key = await desk.conversation("waiting", pending_since=NOON - 30 * MIN)
    await desk.sql("UPDATE desk_agents SET active = false WHERE team = %s", desk.fallback)
    assert await desk.watcher().run_once(NOON) == NOTHING  # members, but none active
    await desk.sql("UPDATE desk_agents SET active = true WHERE team = %s", desk.fallback)
    on_call = dataclasses.replace(desk.policy, team_hours={desk.fallback: NIGHTS_ONLY})
    assert await desk.watcher(policy=on_call).run_once(NOON) == NOTHING  # staffed, but closed
    assert (await desk.row(key))["team"] == desk.team
    assert await desk.watcher().run_once(NOON) == counts(rerouted=1)  # staffed and open
    assert (await desk.row(key))["team"] == desk.fallback


async def test_an_on_call_team_takes_what_waited_in_open_time_not_what_came_after_closing(
        desk: Desk):
    on_call = dataclasses.replace(desk.policy, team_hours={desk.fallback: NIGHTS_ONLY})
    evening = datetime(2026, 11, 18, 21, 0, tzinfo=UTC)
    due = {"first_response_due_at": OPENING + 120 * MIN, "resolution_due_at": OPENING + 600 * MIN}
    before_closing = await desk.conversation("before", pending_since=evening - 70 * MIN, **due)
    after_closing = await desk.conversation("after", pending_since=evening - 30 * MIN, **due)
    assert await desk.watcher(policy=on_call).run_once(evening) == counts(rerouted=1)
    assert (await desk.row(before_closing))["team"] == desk.fallback
    assert (await desk.row(after_closing))["team"] == desk.team


# --- through the real server --------------------------------------------------------------------

async def test_a_handoff_on_a_closed_day_promises_a_callback_the_console_shows(start_server,
                                                                               tmp_path):
    today = datetime.now(ZoneInfo("Europe/London")).date()
    closed = [today + timedelta(days=n) for n in range(2)]
    config = tmp_path / "sla.toml"
    config.write_text(re.sub(r"closed_dates = \[[^\]]*\]",
                             f"closed_dates = [{', '.join(map(date.isoformat, closed))}]",
                             BUNDLED.read_text()))
    server = await start_server(sla_config=config)
    phone = new_phone()
    await server.post_meta(text_message(phone, "I want to talk to a human"))
    rows = await server.wait_for("SELECT * FROM desk_conversations WHERE key = %s"
                                 " AND state = 'PENDING_AGENT'", phone, within_s=30)
    assert rows, "no handoff recorded"
    row = rows[0]
    opening = server.parts.desk.policy.next_opening(datetime.now(UTC))
    assert opening.astimezone(ZoneInfo("Europe/London")).date() == today + timedelta(days=2)
    assert row["callback_at"] == row["first_response_due_at"] == opening + 120 * MIN
    assert row["mode"] == "cold"
    acks = await server.wait_for("SELECT body FROM outbox WHERE conversation_key = %s"
                                 " AND kind = 'text'", phone)
    assert "by 10:00 on " in acks[0]["body"]

    console = await console_for(server)
    try:
        page = (await console.http.get("/console")).text
        ref = await ref_for(server, phone)
        mine = page[page.index(f'data-ref="{ref}"'):]
        assert "callback promised" in mine[:mine.index("</tr>")]
        conversation = (await console.http.get(f"/console/c/{ref}")).text
        assert "Callback promised" in conversation
    finally:
        await console.aclose()
