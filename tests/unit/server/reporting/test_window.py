"""Reading a report window: "7d", "24h", "30m", "2w" or an ISO date, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.reporting.window import MAX_SPAN, BadWindow, moment, window

NOW = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(("text", "before"), [
    ("7d", timedelta(days=7)), ("24h", timedelta(hours=24)), ("30m", timedelta(minutes=30)),
    ("2w", timedelta(weeks=2)), (" 3D ", timedelta(days=3))])
def test_a_span_counts_back_from_now(text, before):
    assert moment(text, NOW) == NOW - before


def test_an_iso_date_is_its_utc_midnight_and_a_time_keeps_its_offset():
    assert moment("2026-12-01", NOW) == datetime(2026, 12, 1, tzinfo=UTC)
    assert moment("2026-12-01T09:00:00", NOW) == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert moment("2026-12-01T09:00:00+01:00", NOW) == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert moment("2026-12-01T09:00:00Z", NOW) == datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize("text", ["7x", "d7", "-7d", "1.5d", "", "yesterday", "2026-13-01",
                                  "7 d", "9999999d"])
def test_anything_else_is_refused_with_a_hint(text):
    with pytest.raises(BadWindow, match="use 7d, 24h, 30m, 2w or an ISO date"):
        moment(text, NOW)


def test_the_window_ends_now_unless_told():
    assert window("7d", now=NOW) == (NOW - timedelta(days=7), NOW)
    assert window("2026-11-01", "2026-11-08", now=NOW) == (
        datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC))


@pytest.mark.parametrize(("since", "until"), [("0d", None), ("2026-12-08", None),
                                              ("2026-11-08", "2026-11-01"), ("1d", "2d")])
def test_an_empty_or_reversed_window_is_refused(since, until):
    with pytest.raises(BadWindow, match="before"):
        window(since, until, now=NOW)


def test_a_span_before_the_year_one_is_refused_not_an_error():
    with pytest.raises(BadWindow, match="too far"):
        moment("999999w", NOW)


def test_a_window_longer_than_a_year_and_a_day_is_refused():
    assert window(f"{MAX_SPAN.days}d", now=NOW)[0] == NOW - MAX_SPAN
    with pytest.raises(BadWindow, match="at most 366 days"):
        window(f"{MAX_SPAN.days + 1}d", now=NOW)
