"""service_report on a known set of conversations: every figure, exactly."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from server.reporting.report import service_report
from tests.integration.server.reporting.scenario import Scenario

pytestmark = pytest.mark.integration


async def test_every_figure_of_a_known_scenario(pool):
    scenario = Scenario(pool)
    await scenario.seed()
    async with pool.connection() as conn:
        report = await service_report(conn, scenario.since, scenario.until)
    assert report == scenario.expected()


async def test_the_window_bounds_what_counts(pool):
    scenario = Scenario(pool)
    await scenario.seed()
    async with pool.connection() as conn:  # day 2 alone: D, E, G and their handoffs
        report = await service_report(conn, scenario.day2, scenario.until)
    assert report["conversations"] == 3
    assert report["handoffs_by_reason"] == {"complaint": 1, "customer_request": 1}
    assert report["first_response_seconds"]["bot"] == {"p50": 4.0, "p95": 4.0, "count": 1}
    assert report["containment_rate"] == 0.0
    assert report["csat"] == {"average": 2.0, "count": 1}
    assert report["cost_usd"] == {"total": 0.03, "per_conversation": 0.01}
    assert [d["date"] for d in report["daily"]] == [scenario.day2.date().isoformat()]


async def test_an_empty_window_has_no_samples_and_no_rates(pool):
    scenario = Scenario(pool)  # nothing written on its days
    async with pool.connection() as conn:
        report = await service_report(conn, scenario.since, scenario.since + timedelta(hours=5))
    assert report["conversations"] == 0
    assert report["first_response_seconds"]["bot"] == {"p50": None, "p95": None, "count": 0}
    assert report["containment_rate"] is None
    assert report["cost_usd"] == {"total": 0.0, "per_conversation": None}
    assert report["csat"] == {"average": None, "count": 0}
    assert report["sla"] == {"met": 0, "missed": 0, "pending": 0, "missed_by_cause": {},
                             "missed_by_target": {}}
    assert len(report["daily"]) == 1 and report["daily"][0]["conversations"] == 0


async def test_inside_the_callers_transaction_it_reads_what_the_caller_wrote(pool):
    scenario = Scenario(pool)
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(  # an uncommitted customer message in the window
            "INSERT INTO inbound_messages (provider, provider_message_id, conversation_key, kind,"
            " body, needs_turn, sent_at, received_at, payload) VALUES ('meta', %s, %s, 'text',"
            " 'hi', true, %s, %s, '{}')", (f"wamid.{scenario.uid}", scenario.key("A"),
                                            scenario.since, scenario.since + timedelta(hours=1)))
        report = await service_report(conn, scenario.since, scenario.until)
        assert report["conversations"] == 1
        raise psycopg.Rollback()  # the test leaves nothing behind
