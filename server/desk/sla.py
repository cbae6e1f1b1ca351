"""Service levels: which target times a handed-off conversation gets, counted in business hours.

The matrix (customer tier x topic -> first-response and resolution targets), the business hours,
closed dates, priority rules and the watcher's fallback team live in a TOML file: SLA_CONFIG, or
the bundled sla.toml. Every datetime in and out is timezone-aware UTC; business hours are
evaluated in the configured timezone, so a DST change shifts opening times in UTC while the
counted time stays real elapsed time.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from graph.state import Intent

BUNDLED = Path(__file__).with_name("sla.toml")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")
TOPICS = frozenset(get_args(Intent))
PRIORITIES = ("low", "normal", "high", "urgent")
"""Lowest first, as desk_conversations.priority allows them."""
FALLBACK_TIER = "retail"
_SEARCH_DAYS = 3660  # a policy open one day a week still finds an opening well inside this


class SlaConfigError(ValueError):
    """The SLA file is missing, unreadable or invalid; the message names the bad key."""


class Targets(NamedTuple):
    first_response: timedelta
    resolution: timedelta


def bump(priority: str) -> str:
    """One step up: low -> normal -> high -> urgent (urgent stays urgent)."""
    index = PRIORITIES.index(priority) if priority in PRIORITIES else 1
    return PRIORITIES[min(index + 1, len(PRIORITIES) - 1)]


@dataclass(frozen=True)
class SlaPolicy:
    timezone: ZoneInfo
    hours: tuple[tuple[tuple[int, int], ...], ...]
    """Per weekday (Monday first): open periods as (start, end) minutes after local midnight."""
    closed_dates: frozenset[date]
    matrix: Mapping[str, Mapping[str, Targets]]
    """tier -> topic (or 'default') -> targets."""
    fallback_team: str = "escalations"
    urgent_reasons: frozenset[str] = frozenset()
    high_tiers: frozenset[str] = frozenset()
    high_topics: frozenset[str] = frozenset()
    high_reasons: frozenset[str] = frozenset()
    source: str = field(default="<dict>", compare=False)

    # --- loading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str | None = None) -> SlaPolicy:
        """The policy in `path`, else in $SLA_CONFIG, else the bundled sla.toml."""
        path = Path(path or os.environ.get("SLA_CONFIG") or BUNDLED)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SlaConfigError(f"SLA config {path}: cannot be read ({exc.strerror or exc})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SlaConfigError(f"SLA config {path}: not valid TOML ({exc})") from exc
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> SlaPolicy:
        """Validate a parsed SLA file; SlaConfigError names the first bad key."""
        def fail(key: str, problem: str) -> SlaConfigError:
            return SlaConfigError(f"SLA config {source}: {key}: {problem}")

        _only(data, {"business_hours", "routing", "priority", "targets"}, "", fail)
        hours_cfg = _table(data, "business_hours", "business_hours", fail)
        _only(hours_cfg, {"timezone", "closed_dates", *DAYS}, "business_hours.", fail)

        tz_name = hours_cfg.get("timezone")
        if not isinstance(tz_name, str) or not tz_name:
            raise fail("business_hours.timezone", "required, e.g. \"Europe/London\"")
        try:
            timezone = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise fail("business_hours.timezone", f"unknown timezone {tz_name!r}") from exc

        hours = tuple(_day_periods(hours_cfg, day, fail) for day in DAYS)
        if not any(hours):
            raise fail("business_hours", "every day is closed")
        closed = _closed_dates(hours_cfg.get("closed_dates", []), fail)

        routing = _table(data, "routing", "routing", fail, required=False)
        _only(routing, {"fallback_team"}, "routing.", fail)
        fallback_team = routing.get("fallback_team", "escalations")
        if not isinstance(fallback_team, str) or not fallback_team.strip():
            raise fail("routing.fallback_team", "must be a team name")

        rules = _table(data, "priority", "priority", fail, required=False)
        names = ("urgent_reasons", "high_tiers", "high_topics", "high_reasons")
        _only(rules, set(names), "priority.", fail)
        sets = {name: _strings(rules.get(name, []), f"priority.{name}", fail) for name in names}

        targets_cfg = _table(data, "targets", "targets", fail)
        matrix: dict[str, dict[str, Targets]] = {}
        for tier, rows in targets_cfg.items():
            if not isinstance(rows, Mapping):
                raise fail(f"targets.{tier}", "must be a table of topics")
            if "default" not in rows:
                raise fail(f"targets.{tier}.default", "required (used for topics not listed)")
            matrix[tier] = {}
            for topic, row in rows.items():
                key = f"targets.{tier}.{topic}"
                if topic != "default" and topic not in TOPICS:
                    raise fail(key, f"unknown topic (known: default, {', '.join(sorted(TOPICS))})")
                matrix[tier][topic] = _targets(row, key, fail)
        if FALLBACK_TIER not in matrix:
            raise fail(f"targets.{FALLBACK_TIER}", "required (used for tiers not listed)")

        return cls(timezone=timezone, hours=hours, closed_dates=closed, matrix=matrix,
                   fallback_team=fallback_team.strip(), source=source, **sets)

    # --- the matrix and priority -----------------------------------------------------------

    def targets(self, tier: str | None, topic: str | None) -> Targets:
        """The tier's row for the topic, else the tier's default; an unknown tier is retail."""
        rows = self.matrix.get(tier or "") or self.matrix[FALLBACK_TIER]
        return rows.get(topic or "default") or rows["default"]

    def due(self, tier: str | None, topic: str | None,
            start: datetime) -> tuple[datetime, datetime]:
        """(first_response_due_at, resolution_due_at) for a handoff at `start`."""
        targets = self.targets(tier, topic)
        return (self.add_business_time(start, targets.first_response),
                self.add_business_time(start, targets.resolution))

    def priority(self, tier: str | None, topic: str | None, reason: str | None) -> str:
        if reason in self.urgent_reasons:
            return "urgent"
        if tier in self.high_tiers or topic in self.high_topics or reason in self.high_reasons:
            return "high"
        return "normal"

    # --- business time ---------------------------------------------------------------------

    def open_periods(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open periods of one local date, as UTC (start, end); none on a closed date."""
        if day in self.closed_dates:
            return []
        return [(self._at(day, start), self._at(day, end)) for start, end in self.hours[day.weekday()]]

    def is_open(self, at: datetime) -> bool:
        at = _utc(at)
        return any(start <= at < end for start, end in self.open_periods(self._local_date(at)))

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself when the desk is open then, else the start of the next open period."""
        return self.add_business_time(at, timedelta(0))

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of open time has passed since `start`. Only open periods count
        (real elapsed time, so a period spanning a DST change counts its true length); a start
        outside hours begins at the next opening. Reaching the exact end of a period returns
        that closing time."""
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        cursor, remaining = _utc(start), duration
        day = self._local_date(cursor)
        for _ in range(_SEARCH_DAYS):
            for period_start, period_end in self.open_periods(day):
                if period_end <= cursor:
                    continue
                begin = max(period_start, cursor)
                if remaining <= period_end - begin:
                    return begin + remaining
                remaining -= period_end - begin
                cursor = period_end
            day += timedelta(days=1)
        raise SlaConfigError(f"SLA config {self.source}: no opening within {_SEARCH_DAYS} days")

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Open time between two moments (zero when end is not after start)."""
        start, end = _utc(start), _utc(end)
        total, day = timedelta(0), self._local_date(start)
        while day <= self._local_date(end):
            for period_start, period_end in self.open_periods(day):
                overlap = min(period_end, end) - max(period_start, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    # --- customer-facing -------------------------------------------------------------------

    def eta_text(self, due_at: datetime, now: datetime) -> str:
        """When the customer can expect us, in words: "within 15 minutes", "within 2 hours",
        "by 9:00 today", "by 9:00 tomorrow", "by 9:00 on Monday", "by 9:00 on Friday 1 January".
        Rounded up (to 5 minutes, or whole hours), so the promise is never earlier than due_at."""
        due_at, now = _utc(due_at), _utc(now)
        left = due_at - now
        if left <= timedelta(0):
            return "shortly"
        minutes = 5 * math.ceil(left / timedelta(minutes=5))
        if minutes < 60:
            return f"within {minutes} minutes"
        if left <= timedelta(hours=4):
            hours = math.ceil(left / timedelta(hours=1))
            return "within 1 hour" if hours == 1 else f"within {hours} hours"
        rounded = datetime.fromtimestamp(300 * math.ceil(due_at.timestamp() / 300), UTC)
        local = rounded.astimezone(self.timezone)
        clock = f"{local.hour}:{local.minute:02d}"
        days = (local.date() - self._local_date(now)).days
        if days <= 0:
            return f"by {clock} today"
        if days == 1:
            return f"by {clock} tomorrow"
        weekday = WEEKDAY_NAMES[local.weekday()]
        if days < 7:
            return f"by {clock} on {weekday}"
        return f"by {clock} on {weekday} {local.day} {MONTH_NAMES[local.month - 1]}"

    # --- helpers ---------------------------------------------------------------------------

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self.timezone).date()

    def _at(self, day: date, minutes: int) -> datetime:
        """Local wall-clock time `minutes` after `day`'s midnight (1440: the next midnight), UTC."""
        day += timedelta(days=minutes // 1440)
        minutes %= 1440
        local = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60,
                         tzinfo=self.timezone)
        return local.astimezone(UTC)


def load(path: Path | str | None = None) -> SlaPolicy:
    """SlaPolicy.load: the policy in `path`, $SLA_CONFIG or the bundled sla.toml."""
    return SlaPolicy.load(path)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("SLA times must be timezone-aware")
    return at.astimezone(UTC)


def _only(table: Mapping[str, Any], allowed: set[str], prefix: str, fail) -> None:
    for key in table:
        if key not in allowed:
            raise fail(f"{prefix}{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _table(data: Mapping[str, Any], name: str, key: str, fail,
           required: bool = True) -> Mapping[str, Any]:
    if name not in data:
        if required:
            raise fail(key, "required table is missing")
        return {}
    if not isinstance(data[name], Mapping):
        raise fail(key, "must be a table")
    return data[name]


def _clock(text: str, key: str, fail) -> int:
    hours, sep, minutes = text.strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise fail(key, f"{text!r} is not a HH:MM time")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 1440:
        raise fail(key, f"{text!r} is not a time between 00:00 and 24:00")
    return value


def _day_periods(hours_cfg: Mapping[str, Any], day: str, fail) -> tuple[tuple[int, int], ...]:
    key = f"business_hours.{day}"
    if day not in hours_cfg:
        raise fail(key, "required: a list of \"HH:MM-HH:MM\" periods, [] when closed")
    periods = hours_cfg[day]
    if not isinstance(periods, list) or not all(isinstance(p, str) for p in periods):
        raise fail(key, "must be a list of \"HH:MM-HH:MM\" strings, e.g. [\"08:00-20:00\"]")
    parsed = []
    for period in periods:
        start_text, sep, end_text = period.partition("-")
        if not sep:
            raise fail(key, f"{period!r} is not a \"HH:MM-HH:MM\" period")
        start, end = _clock(start_text, key, fail), _clock(end_text, key, fail)
        if end <= start:
            raise fail(key, f"{period!r} ends before it starts")
        parsed.append((start, end))
    parsed.sort()
    for (_, end), (start, _) in zip(parsed, parsed[1:], strict=False):
        if start < end:
            raise fail(key, "periods overlap")
    return tuple(parsed)


def _closed_dates(values: Any, fail) -> frozenset[date]:
    key = "business_hours.closed_dates"
    if not isinstance(values, list):
        raise fail(key, "must be a list of dates, e.g. [2026-12-25]")
    dates = set()
    for value in values:
        if isinstance(value, datetime) or not isinstance(value, date | str):
            raise fail(key, f"{value!r} is not a date")
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError as exc:
                raise fail(key, f"{value!r} is not a YYYY-MM-DD date") from exc
        dates.add(value)
    return frozenset(dates)


def _strings(values: Any, key: str, fail) -> frozenset[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise fail(key, "must be a list of strings")
    return frozenset(values)


def _targets(row: Any, key: str, fail) -> Targets:
    if not isinstance(row, Mapping):
        raise fail(key, "must be a table: { first_response = <minutes>, resolution = <minutes> }")
    _only(row, {"first_response", "resolution"}, f"{key}.", fail)
    minutes = {}
    for name in ("first_response", "resolution"):
        value = row.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not 0 < value < 10**7:
            raise fail(f"{key}.{name}", f"must be a positive number of minutes, got {value!r}")
        minutes[name] = timedelta(minutes=value)
    if minutes["resolution"] < minutes["first_response"]:
        raise fail(f"{key}.resolution", "must not be shorter than first_response")
    return Targets(**minutes)
