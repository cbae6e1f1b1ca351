"""The SLA policy: the matrix, business-time arithmetic in Europe/London, and customer ETAs."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from server.desk import sla
from server.desk.sla import TOPICS, SlaConfigError, SlaPolicy, Targets, bump

MIN = timedelta(minutes=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def config(**changes) -> dict:
    """A small valid config: Mon-Fri 09:00-17:00 London, closed weekends."""
    data = {
        "business_hours": {"timezone": "Europe/London", "closed_dates": [date(2026, 12, 25)],
                           **{d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
                           "sat": [], "sun": []},
        "routing": {"fallback_team": "escalations"},
        "priority": {"urgent_reasons": ["legal_threat"], "high_tiers": ["vip"],
                     "high_topics": ["complaint"]},
        "targets": {"retail": {"default": {"first_response": 120, "resolution": 1440},
                               "billing": {"first_response": 60, "resolution": 1440}},
                    "trade": {"default": {"first_response": 30, "resolution": 480}}},
    }
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        table = data
        for name in parents:
            table = table.setdefault(name, {})
        if value is None:
            table.pop(leaf, None)
        else:
            table[leaf] = value
    return data


@pytest.fixture(scope="module")
def bundled() -> SlaPolicy:
    return SlaPolicy.load(sla.BUNDLED)


@pytest.fixture(scope="module")
def weekdays() -> SlaPolicy:
    return SlaPolicy.from_dict(config())


# --- the bundled file ---------------------------------------------------------------------------

def test_bundled_matrix_covers_every_tier_and_topic(bundled: SlaPolicy):
    assert set(bundled.matrix) == {"vip", "trade", "retail"}
    for tier, rows in bundled.matrix.items():
        assert set(rows) == TOPICS | {"default"}, tier
    assert bundled.targets("vip", "order_status") == Targets(15 * MIN, 240 * MIN)
    assert bundled.targets("trade", "other") == Targets(30 * MIN, 480 * MIN)
    assert bundled.targets("retail", "human_request") == Targets(120 * MIN, 1440 * MIN)
    for tier in bundled.matrix:  # complaints and billing are answered sooner
        assert bundled.targets(tier, "complaint") < bundled.targets(tier, "default")
        assert bundled.targets(tier, "billing").first_response < bundled.targets(tier, "default").first_response
    assert str(bundled.timezone) == "Europe/London"
    assert bundled.fallback_team == "escalations"
    assert {date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1)} <= bundled.closed_dates


def test_bundled_hours_are_eight_to_eight_every_day(bundled: SlaPolicy):
    # Help center: WhatsApp is staffed 8:00-20:00 every day. Sunday 2026-11-22, in GMT.
    assert not bundled.is_open(utc(2026, 11, 22, 7, 59))
    assert bundled.is_open(utc(2026, 11, 22, 8, 0))
    assert bundled.is_open(utc(2026, 11, 22, 19, 59, 59))
    assert not bundled.is_open(utc(2026, 11, 22, 20, 0))
    # In summer the same local hours are 07:00-19:00 UTC.
    assert bundled.is_open(utc(2026, 7, 4, 7, 0)) and not bundled.is_open(utc(2026, 7, 4, 19, 0))
    assert not bundled.is_open(utc(2026, 12, 25, 12, 0))  # closed date


def test_load_reads_sla_config_from_the_environment(tmp_path: Path, monkeypatch):
    path = tmp_path / "sla.toml"
    path.write_text(sla.BUNDLED.read_text().replace('"escalations"', '"night-shift"'))
    monkeypatch.setenv("SLA_CONFIG", str(path))
    assert SlaPolicy.load().fallback_team == "night-shift"
    assert SlaPolicy.load().source == str(path)
    assert SlaPolicy.load(sla.BUNDLED).fallback_team == "escalations"  # an explicit path wins


# --- business time ------------------------------------------------------------------------------

@pytest.mark.parametrize(("start", "minutes", "expected"), [
    # within hours
    (utc(2026, 11, 18, 10, 0), 15, utc(2026, 11, 18, 10, 15)),
    # ends exactly at closing time
    (utc(2026, 11, 18, 19, 45), 15, utc(2026, 11, 18, 20, 0)),
    # across closing: 10 minutes on Wednesday, 5 on Thursday morning
    (utc(2026, 11, 18, 19, 50), 15, utc(2026, 11, 19, 8, 5)),
    # across closing in summer time (20:00 BST is 19:00 UTC; 08:00 BST is 07:00 UTC)
    (utc(2026, 7, 1, 18, 50), 15, utc(2026, 7, 2, 7, 5)),
    # before opening: starts at 08:00
    (utc(2026, 11, 18, 3, 0), 15, utc(2026, 11, 18, 8, 15)),
    # after closing, across midnight
    (utc(2026, 11, 18, 23, 30), 120, utc(2026, 11, 19, 10, 0)),
    # several days: 1440 open minutes are two 12-hour days
    (utc(2026, 11, 18, 8, 0), 1440, utc(2026, 11, 19, 20, 0)),
    # over Christmas Day and Boxing Day (closed dates)
    (utc(2026, 12, 24, 19, 55), 15, utc(2026, 12, 27, 8, 10)),
    # over New Year's Day
    (utc(2026, 12, 31, 19, 50), 30, utc(2027, 1, 2, 8, 20)),
    # spring forward (Sunday 2027-03-28): Saturday closes 20:00 GMT, Sunday opens 08:00 BST = 07:00 UTC
    (utc(2027, 3, 27, 19, 30), 60, utc(2027, 3, 28, 7, 30)),
    (utc(2027, 3, 27, 12, 0), 12 * 60, utc(2027, 3, 28, 11, 0)),
    # fall back (Sunday 2026-10-25): Saturday closes 20:00 BST = 19:00 UTC, Sunday opens 08:00 GMT
    (utc(2026, 10, 24, 18, 30), 60, utc(2026, 10, 25, 8, 30)),
    (utc(2026, 10, 24, 12, 0), 12 * 60, utc(2026, 10, 25, 13, 0)),
])
def test_add_business_time(bundled: SlaPolicy, start, minutes, expected):
    assert bundled.add_business_time(start, minutes * MIN) == expected
    assert bundled.business_time_between(start, expected) == minutes * MIN


def test_weekends_are_skipped(weekdays: SlaPolicy):
    friday = utc(2026, 11, 20, 16, 30)
    assert weekdays.add_business_time(friday, 60 * MIN) == utc(2026, 11, 23, 9, 30)
    assert weekdays.add_business_time(utc(2026, 11, 21, 12, 0), 10 * MIN) == utc(2026, 11, 23, 9, 10)
    assert not weekdays.is_open(utc(2026, 11, 21, 12, 0))
    assert weekdays.next_opening(utc(2026, 11, 21, 12, 0)) == utc(2026, 11, 23, 9, 0)
    # Christmas 2026 is a Friday: Thursday 16:50 + 20 min -> Monday 28th 09:10
    assert weekdays.add_business_time(utc(2026, 12, 24, 16, 50), 20 * MIN) == utc(2026, 12, 28, 9, 10)


def test_open_time_is_real_time_across_a_dst_change():
    """A period spanning the change counts its true length: 00:00-03:00 local is 2 hours on
    2027-03-28 (clocks go forward at 01:00) and 4 hours on 2026-10-25 (back at 02:00)."""
    policy = SlaPolicy.from_dict(config(**{f"business_hours__{d}": ["00:00-03:00"]
                                           for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}))
    spring = utc(2027, 3, 28, 0, 0)  # 00:00 GMT
    assert policy.business_time_between(spring, utc(2027, 3, 28, 12, 0)) == 120 * MIN
    # 2 hours that night, then Monday 00:00 BST (Sunday 23:00 UTC) + 30 minutes
    assert policy.add_business_time(spring, 150 * MIN) == utc(2027, 3, 28, 23, 30)
    autumn = utc(2026, 10, 24, 23, 0)  # 00:00 BST on the 25th
    assert policy.business_time_between(autumn, utc(2026, 10, 25, 12, 0)) == 240 * MIN
    assert policy.add_business_time(autumn, 210 * MIN) == utc(2026, 10, 25, 2, 30)
    assert policy.is_open(utc(2026, 10, 25, 2, 59)) and not policy.is_open(utc(2026, 10, 25, 3, 0))


def test_a_day_open_until_midnight_runs_into_the_next():
    policy = SlaPolicy.from_dict(config(**{f"business_hours__{d}": ["00:00-24:00"]
                                           for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
                                        business_hours__closed_dates=[]))
    start = utc(2026, 11, 18, 23, 0)
    assert policy.add_business_time(start, 120 * MIN) == utc(2026, 11, 19, 1, 0)
    assert policy.is_open(utc(2026, 11, 19, 0, 0))


def test_next_opening_and_zero_duration(bundled: SlaPolicy):
    assert bundled.next_opening(utc(2026, 11, 18, 10, 0)) == utc(2026, 11, 18, 10, 0)
    assert bundled.next_opening(utc(2026, 11, 18, 20, 0)) == utc(2026, 11, 19, 8, 0)
    assert bundled.next_opening(utc(2026, 12, 25, 9, 0)) == utc(2026, 12, 27, 8, 0)
    assert bundled.next_opening(utc(2027, 3, 27, 21, 0)) == utc(2027, 3, 28, 7, 0)  # 08:00 BST
    assert bundled.add_business_time(utc(2026, 11, 18, 21, 0), timedelta(0)) == utc(2026, 11, 19, 8, 0)


def test_times_must_be_aware_and_durations_positive(bundled: SlaPolicy):
    with pytest.raises(ValueError, match="timezone-aware"):
        bundled.is_open(datetime(2026, 11, 18, 10, 0))
    with pytest.raises(ValueError, match="negative"):
        bundled.add_business_time(utc(2026, 11, 18, 10, 0), -MIN)
    # Other offsets are accepted and answered in UTC.
    from zoneinfo import ZoneInfo
    paris = datetime(2026, 11, 18, 11, 0, tzinfo=ZoneInfo("Europe/Paris"))
    due = bundled.add_business_time(paris, 15 * MIN)
    assert due == utc(2026, 11, 18, 10, 15) and due.tzinfo is UTC


# --- matrix, due times, priority ----------------------------------------------------------------

def test_targets_fall_back_to_the_tier_default_then_retail(weekdays: SlaPolicy):
    assert weekdays.targets("retail", "billing") == Targets(60 * MIN, 1440 * MIN)
    assert weekdays.targets("trade", "billing") == Targets(30 * MIN, 480 * MIN)  # trade default
    assert weekdays.targets("trade", None) == Targets(30 * MIN, 480 * MIN)
    assert weekdays.targets("gold", "other") == Targets(120 * MIN, 1440 * MIN)  # retail default
    assert weekdays.targets("gold", "billing") == Targets(60 * MIN, 1440 * MIN)  # retail's row
    assert weekdays.targets(None, None) == Targets(120 * MIN, 1440 * MIN)


def test_due_counts_both_targets_in_business_time(bundled: SlaPolicy):
    first, resolution = bundled.due("vip", "complaint", utc(2026, 11, 18, 19, 55))
    assert first == utc(2026, 11, 19, 8, 5)  # 10 minutes: 5 tonight, 5 tomorrow
    assert resolution == utc(2026, 11, 19, 10, 55)  # 180 minutes
    first, resolution = bundled.due("retail", "returns_refunds", utc(2026, 11, 18, 8, 0))
    assert (first, resolution) == (utc(2026, 11, 18, 10, 0), utc(2026, 11, 21, 20, 0))


@pytest.mark.parametrize(("tier", "topic", "reason", "expected"), [
    ("retail", "order_status", "customer_request", "normal"),
    ("vip", "order_status", "customer_request", "high"),
    ("retail", "complaint", None, "high"),
    ("trade", "billing", "verification_lockout", "high"),
    ("retail", "billing", "chargeback", "urgent"),
    ("vip", "complaint", "legal_threat", "urgent"),
    (None, None, None, "normal"),
])
def test_priority(bundled: SlaPolicy, tier, topic, reason, expected):
    assert bundled.priority(tier, topic, reason) == expected


def test_bump():
    assert [bump(p) for p in ("low", "normal", "high", "urgent")] == ["normal", "high", "urgent", "urgent"]


# --- customer-facing ETA ------------------------------------------------------------------------

@pytest.mark.parametrize(("now", "due", "text"), [
    (utc(2026, 11, 18, 10, 0), utc(2026, 11, 18, 10, 15), "within 15 minutes"),
    (utc(2026, 11, 18, 10, 0), utc(2026, 11, 18, 10, 3), "within 5 minutes"),
    (utc(2026, 11, 18, 10, 0), utc(2026, 11, 18, 10, 41), "within 45 minutes"),
    (utc(2026, 11, 18, 10, 0), utc(2026, 11, 18, 11, 0), "within 1 hour"),
    (utc(2026, 11, 18, 10, 0), utc(2026, 11, 18, 12, 0), "within 2 hours"),
    (utc(2026, 11, 18, 10, 0), utc(2026, 11, 18, 19, 0), "by 19:00 today"),
    (utc(2026, 11, 18, 19, 55), utc(2026, 11, 19, 8, 10), "by 8:10 tomorrow"),
    (utc(2026, 11, 18, 19, 55), utc(2026, 11, 19, 8, 7, 30), "by 8:10 tomorrow"),  # rounded up
    (utc(2026, 7, 1, 19, 30), utc(2026, 7, 2, 8, 0), "by 9:00 tomorrow"),  # BST
    (utc(2026, 11, 20, 17, 30), utc(2026, 11, 23, 9, 0), "by 9:00 on Monday"),
    (utc(2026, 12, 18, 17, 30), utc(2027, 1, 1, 9, 0), "by 9:00 on Friday 1 January"),
    (utc(2026, 11, 18, 10, 0), utc(2026, 11, 18, 9, 0), "shortly"),
])
def test_eta_text(bundled: SlaPolicy, now, due, text):
    assert bundled.eta_text(due, now) == text


def test_eta_for_a_handoff_after_hours(weekdays: SlaPolicy):
    friday_evening = utc(2026, 11, 20, 18, 0)
    first, _ = weekdays.due("trade", None, friday_evening)
    assert weekdays.eta_text(first, friday_evening) == "by 9:30 on Monday"


# --- config errors ------------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "key"), [
    ({"targets__retail": None}, "targets.retail"),
    ({"targets__trade__default": None}, "targets.trade.default"),
    ({"targets__trade__complain": {"first_response": 5, "resolution": 60}}, "targets.trade.complain"),
    ({"targets__trade__default": {"first_response": -5, "resolution": 60}}, "targets.trade.default.first_response"),
    ({"targets__trade__default": {"first_response": 30}}, "targets.trade.default.resolution"),
    ({"targets__trade__default": {"first_response": 60, "resolution": 30}}, "targets.trade.default.resolution"),
    ({"targets__trade__default": {"first_response": 30, "resolution": 60, "first": 1}}, "targets.trade.default.first"),
    ({"targets__trade": "fast"}, "targets.trade"),
    ({"targets": None}, "targets"),
    ({"business_hours__timezone": "Europe/Londn"}, "business_hours.timezone"),
    ({"business_hours__timezone": None}, "business_hours.timezone"),
    ({"business_hours__mon": ["8am-8pm"]}, "business_hours.mon"),
    ({"business_hours__tue": ["17:00-09:00"]}, "business_hours.tue"),
    ({"business_hours__wed": ["09:00-12:00", "11:00-17:00"]}, "business_hours.wed"),
    ({"business_hours__thu": ["09:00-25:00"]}, "business_hours.thu"),
    ({"business_hours__fri": "09:00-17:00"}, "business_hours.fri"),
    ({"business_hours__sat": None}, "business_hours.sat"),
    ({"business_hours__thur": ["09:00-17:00"]}, "business_hours.thur"),
    ({"business_hours__closed_dates": ["25/12/2026"]}, "business_hours.closed_dates"),
    ({f"business_hours__{d}": [] for d in ("mon", "tue", "wed", "thu", "fri")}, "business_hours"),
    ({"routing__fallback_team": ""}, "routing.fallback_team"),
    ({"priority__urgent_reasons": "legal_threat"}, "priority.urgent_reasons"),
    ({"priority__vip_tiers": ["vip"]}, "priority.vip_tiers"),
    ({"sla": {}}, "sla"),
])
def test_config_errors_name_the_bad_key(changes, key):
    with pytest.raises(SlaConfigError) as error:
        SlaPolicy.from_dict(config(**copy.deepcopy(changes)), source="test.toml")
    assert f"test.toml: {key}:" in str(error.value)


def test_unreadable_files_are_config_errors(tmp_path: Path):
    with pytest.raises(SlaConfigError, match="cannot be read"):
        SlaPolicy.load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[targets.vip\ndefault = 1\n")
    with pytest.raises(SlaConfigError, match="not valid TOML"):
        SlaPolicy.load(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text(sla.BUNDLED.read_text().replace("complaint        =", "complain =", 1))
    with pytest.raises(SlaConfigError, match=r"targets\.vip\.complain: unknown topic"):
        SlaPolicy.load(typo)
