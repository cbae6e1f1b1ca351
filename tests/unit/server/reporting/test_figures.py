"""The report's figures from facts: percentiles, durations, containment, SLA, days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from server.desk.report_facts import Escalation, Handoff
from server.reporting.facts import Started
from server.reporting.figures import contained, days, durations, figures, percentile, sla

T = datetime(2026, 12, 1, 9, tzinfo=UTC)
S = timedelta(seconds=1)


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([], 0.5, None), ([7], 0.5, 7), ([7], 0.95, 7), ([1, 2], 0.5, 1.5),
    ([3, 4, 5, 15], 0.5, 4.5), ([3, 4, 5, 15], 0.95, 13.5), ([15, 3, 5, 4], 0.95, 13.5),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95, 9.55), ([1, 2, 3], 0, 1), ([1, 2, 3], 1, 3),
    ([0.1, 0.2, 0.4], 0.5, 0.2), ([1, 2], 1 / 3, 1.333)])
def test_percentile_interpolates_between_ranks_like_postgres(values, q, expected):
    assert percentile(values, q) == expected


def test_durations_skip_what_has_no_end():
    assert durations([(T, T + 5 * S), (T, None), (T, T + timedelta(minutes=2))]) == [5.0, 120.0]


def test_contained_needs_a_bot_reply_and_no_human():
    answered, silent = Started("a", T, T + S), Started("b", T, None)
    assert contained(answered, None) and contained(answered, Escalation("a", None, None))
    assert not contained(answered, Escalation("a", T + S, None))
    assert not contained(silent, None)


def handoff(misses=(), replied=False, handed_back=False, reason="customer_request") -> Handoff:
    return Handoff("k", T, reason, T + S if replied else None, T + S if handed_back else None,
                   tuple(misses))


def test_sla_targets_are_met_missed_or_pending():
    result = sla([
        handoff(replied=True, handed_back=True),                       # met, met
        handoff([("first_response", "unclaimed")], replied=True),      # missed, pending
        handoff([("first_response", "no_agent_online"), ("resolution", "unresolved")]),
        handoff()])                                                     # pending, pending
    assert result == {"met": 2, "missed": 3, "pending": 3,
                      "missed_by_cause": {"no_agent_online": 1, "unclaimed": 1, "unresolved": 1},
                      "missed_by_target": {"first_response": 2, "resolution": 1}}


def test_days_are_the_utc_days_the_window_touches():
    assert days(T, T + timedelta(hours=1)) == [T.date()]
    assert days(T, T.replace(hour=0) + timedelta(days=2)) == [
        T.date(), T.date() + timedelta(days=1)]
    assert len(days(T, T + timedelta(days=7))) == 8


def test_a_handoff_without_a_reason_and_costs_per_conversation():
    report = figures(since=T, until=T + timedelta(hours=2),
                     conversations=[Started("a", T, T + 2 * S), Started("b", T, None),
                                    Started("c", T, None)],
                     escalations={}, handoffs=[handoff(reason=None)], ratings=[(T, 5), (T, 4)],
                     cost={T.date(): Decimal("0.10000")})
    assert report["handoffs_by_reason"] == {"unspecified": 1}
    assert report["containment_rate"] == 0.3333
    assert report["cost_usd"] == {"total": 0.1, "per_conversation": 0.033333}
    assert report["csat"] == {"average": 4.5, "count": 2}
    assert report["daily"] == [{"date": "2026-12-01", "conversations": 3,
                                "containment_rate": 0.3333, "first_response_p50": 2.0,
                                "handoffs": 1, "csat_average": 4.5, "cost_usd": 0.1}]
