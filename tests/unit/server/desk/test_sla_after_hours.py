"""After hours: open time counted backwards (when a wait has been long enough to re-route),
teams that keep their own hours, and when a handoff's promise is a callback."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta

import pytest

from server.desk import sla
from server.desk.sla import DAYS, SlaConfigError, SlaPolicy

MIN = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="module")
def bundled() -> SlaPolicy:
    return SlaPolicy.load(sla.BUNDLED)


def with_team_hours(**teams) -> SlaPolicy:
    data = {
        "business_hours": {"timezone": "Europe/London", "closed_dates": [date(2026, 12, 25)],
                           **{d: ["09:00-17:00"] for d in DAYS}},
        "targets": {"retail": {"default": {"first_response": 120, "resolution": 1440}}},
        "team_hours": copy.deepcopy(teams),
    }
    return SlaPolicy.from_dict(data, source="test.toml")


NIGHTS = {d: ["00:00-09:00", "17:00-24:00"] for d in DAYS}


# --- business_time_before -----------------------------------------------------------------------

@pytest.mark.parametrize(("end", "minutes", "expected"), [
    (utc(2026, 11, 18, 12, 0), 5, utc(2026, 11, 18, 11, 55)),        # inside one period
    (utc(2026, 11, 19, 8, 3), 5, utc(2026, 11, 18, 19, 58)),         # 3 min today, 2 yesterday
    (utc(2026, 11, 19, 8, 5), 5, utc(2026, 11, 18, 20, 0)),          # today's 5 exactly: the
    (utc(2026, 11, 19, 3, 0), 5, utc(2026, 11, 18, 19, 55)),         # night counts nothing
    (utc(2026, 11, 19, 3, 0), 0, utc(2026, 11, 18, 20, 0)),          # closed: the last closing
    (utc(2026, 12, 27, 8, 2), 5, utc(2026, 12, 24, 19, 57)),         # over two closed dates
    (utc(2027, 3, 28, 7, 2), 5, utc(2027, 3, 27, 19, 57)),           # spring forward
])
def test_business_time_before(bundled: SlaPolicy, end, minutes, expected):
    cutoff = bundled.business_time_before(end, minutes * MIN)
    assert cutoff == expected
    # A wait that began at the cutoff has had exactly the duration; one that began any
    # earlier, more; one that began later, less (or the same, inside a closed gap).
    assert bundled.business_time_between(cutoff, end) == minutes * MIN
    assert bundled.business_time_between(cutoff - SECOND, end) > minutes * MIN


def test_business_time_before_rejects_negative_durations(bundled: SlaPolicy):
    with pytest.raises(ValueError):
        bundled.business_time_before(utc(2026, 11, 18, 12, 0), -MIN)


# --- team hours ---------------------------------------------------------------------------------

def test_a_team_keeps_its_own_hours_and_the_desk_closed_dates_unless_it_says():
    policy = with_team_hours(night=NIGHTS, always={**{d: ["00:00-24:00"] for d in DAYS},
                                                   "closed_dates": []})
    three_am, noon = utc(2026, 11, 18, 3, 0), utc(2026, 11, 18, 12, 0)
    assert not policy.is_open(three_am) and policy.is_open(noon)
    assert policy.is_open(three_am, "night") and not policy.is_open(noon, "night")
    assert policy.is_open(noon, "unknown-team")  # a team without hours keeps the desk's
    christmas = utc(2026, 12, 25, 3, 0)
    assert not policy.is_open(christmas, "night") and policy.is_open(christmas, "always")
    assert policy.next_opening(noon, "night") == utc(2026, 11, 18, 17, 0)
    assert policy.add_business_time(utc(2026, 11, 18, 8, 50), 20 * MIN, "night") == utc(
        2026, 11, 18, 17, 10)
    assert policy.business_time_between(utc(2026, 11, 18, 8, 0), utc(2026, 11, 18, 18, 0),
                                        "night") == 120 * MIN
    assert policy.business_time_before(utc(2026, 11, 18, 17, 2), 5 * MIN, "night") == utc(
        2026, 11, 18, 8, 57)


def test_the_bundled_file_gives_no_team_other_hours(bundled: SlaPolicy):
    assert bundled.team_hours == {}


@pytest.mark.parametrize(("teams", "key"), [
    ({"night": "24/7"}, "team_hours.night"),
    ({"night": {**NIGHTS, "mon": ["9am-5pm"]}}, "team_hours.night.mon"),
    ({"night": {d: v for d, v in NIGHTS.items() if d != "sun"}}, "team_hours.night.sun"),
    ({"night": {**NIGHTS, "holidays": []}}, "team_hours.night.holidays"),
    ({"night": {d: [] for d in DAYS}}, "team_hours.night"),
    ({"night": {**NIGHTS, "closed_dates": ["xmas"]}}, "team_hours.night.closed_dates"),
])
def test_bad_team_hours_name_the_key(teams, key):
    with pytest.raises(SlaConfigError) as error:
        with_team_hours(**teams)
    assert f"test.toml: {key}:" in str(error.value)


# --- callbacks ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("now", "tier", "callback"), [
    (utc(2026, 11, 18, 23, 30), "retail", utc(2026, 11, 19, 10, 0)),  # closed: by 10:00 tomorrow
    (utc(2026, 11, 19, 6, 0), "vip", utc(2026, 11, 19, 8, 15)),      # before opening
    (utc(2026, 11, 18, 19, 30), "retail", utc(2026, 11, 19, 9, 30)),  # the promise crosses the night
    (utc(2026, 11, 18, 12, 0), "retail", None),                        # answered today
    (utc(2026, 11, 18, 19, 40), "vip", None),                          # 19:55, before closing
])
def test_a_promise_across_a_closed_night_is_a_callback(bundled: SlaPolicy, now, tier, callback):
    first_due, _ = bundled.due(tier, "order_status", now)
    assert bundled.callback_at(now, first_due) == callback
    if callback:  # the SLA clock starts at the opening: the night is not counted
        opening = bundled.next_opening(now) if not bundled.is_open(now) else None
        if opening:
            assert first_due - opening == bundled.targets(tier, "order_status").first_response


def test_late_messages_are_high_priority_in_the_bundled_file(bundled: SlaPolicy):
    assert bundled.priority("retail", "order_status", "late_message") == "high"
