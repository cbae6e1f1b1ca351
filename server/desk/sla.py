"""Service levels: which target times a handed-off conversation gets, counted in business hours.

The matrix (customer tier x topic -> first-response and resolution targets), the business hours,
closed dates, priority rules, the watcher's fallback team and the hours of teams that keep
other hours live in a TOML file: SLA_CONFIG, or the bundled sla.toml (read and validated by
server/desk/sla_config.py). Every datetime in and out
is timezone-aware UTC; business hours are evaluated in the configured timezone, so a DST change
shifts opening times in UTC while the counted time stays real elapsed time. A `team` argument
picks that team's hours ([team_hours.<team>]); a team without its own keeps business_hours.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from server.desk.sla_config import (  # noqa: F401 - DAYS, TOPICS: part of this module's interface
    DAYS,
    FALLBACK_TIER,
    TOPICS,
    Hours,
    SlaConfigError,
    Targets,
    parse,
)
from server.desk.states import Priority

BUNDLED = Path(__file__).with_name("sla.toml")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")
_SEARCH_DAYS = 3660  # a policy open one day a week still finds an opening well inside this


def bump(priority: str) -> Priority:
    """One step up: low -> normal -> high -> urgent (urgent stays urgent); an unknown value
    counts as normal."""
    known = priority if priority in list(Priority) else Priority.NORMAL
    return Priority(known).raised()


@dataclass(frozen=True)
class SlaPolicy:
    """Business hours, SLA targets per tier and topic, and priorities: when a human must answer."""

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
    team_hours: Mapping[str, Hours] = field(default_factory=dict)
    """Teams that keep other hours than the desk's (e.g. an on-call escalations team)."""
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
        return cls(**parse(data, source), source=source)

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
        """A handoff's priority (a Priority value) by the [priority] rules of the SLA file. A
        plain string: it goes into the handoff payload, which is checkpointed."""
        if reason in self.urgent_reasons:
            return Priority.URGENT.value
        if tier in self.high_tiers or topic in self.high_topics or reason in self.high_reasons:
            return Priority.HIGH.value
        return Priority.NORMAL.value

    # --- business time ---------------------------------------------------------------------

    def open_periods(self, day: date, team: str | None = None) -> list[tuple[datetime, datetime]]:
        """The open periods of one local date, as UTC (start, end); none on a closed date."""
        hours = self.team_hours.get(team or "") or Hours(self.hours, self.closed_dates)
        if day in hours.closed_dates:
            return []
        return [(self._at(day, start), self._at(day, end)) for start, end in hours.periods[day.weekday()]]

    def is_open(self, at: datetime, team: str | None = None) -> bool:
        at = _utc(at)
        return any(start <= at < end for start, end in self.open_periods(self._local_date(at), team))

    def next_opening(self, at: datetime, team: str | None = None) -> datetime:
        """`at` itself when the desk is open then, else the start of the next open period."""
        return self.add_business_time(at, timedelta(0), team)

    def add_business_time(self, start: datetime, duration: timedelta,
                          team: str | None = None) -> datetime:
        """The moment `duration` of open time has passed since `start`. Only open periods count
        (real elapsed time, so a period spanning a DST change counts its true length); a start
        outside hours begins at the next opening. Reaching the exact end of a period returns
        that closing time."""
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        cursor, remaining = _utc(start), duration
        day = self._local_date(cursor)
        for _ in range(_SEARCH_DAYS):
            for period_start, period_end in self.open_periods(day, team):
                if period_end <= cursor:
                    continue
                begin = max(period_start, cursor)
                if remaining <= period_end - begin:
                    return begin + remaining
                remaining -= period_end - begin
                cursor = period_end
            day += timedelta(days=1)
        raise SlaConfigError(f"SLA config {self.source}: no opening within {_SEARCH_DAYS} days")

    def business_time_before(self, end: datetime, duration: timedelta,
                             team: str | None = None) -> datetime:
        """The earliest moment from which exactly `duration` of open time has passed by `end`:
        a wait that began before it has had more than `duration` of open time. A closed night
        counts nothing, so a wait that began after closing has had none before the opening."""
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        cursor, remaining = _utc(end), duration
        day = self._local_date(cursor)
        for _ in range(_SEARCH_DAYS):
            for period_start, period_end in reversed(self.open_periods(day, team)):
                if period_start >= cursor:
                    continue
                stop = min(period_end, cursor)
                # Strictly less: a period used up exactly goes on to the previous one's end.
                if remaining < stop - period_start:
                    return stop - remaining
                remaining -= stop - period_start
                cursor = period_start
            day -= timedelta(days=1)
        raise SlaConfigError(f"SLA config {self.source}: no opening within {_SEARCH_DAYS} days")

    def business_time_between(self, start: datetime, end: datetime,
                              team: str | None = None) -> timedelta:
        """Open time between two moments (zero when end is not after start)."""
        start, end = _utc(start), _utc(end)
        total, day = timedelta(0), self._local_date(start)
        while day <= self._local_date(end):
            for period_start, period_end in self.open_periods(day, team):
                overlap = min(period_end, end) - max(period_start, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    def callback_at(self, now: datetime, due_at: datetime) -> datetime | None:
        """`due_at` when the desk is closed now or closes before it: the customer was promised
        a reply after a closed night or day, a callback the queue shows first; else None."""
        now, due_at = _utc(now), _utc(due_at)
        return due_at if due_at - now > self.business_time_between(now, due_at) else None

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


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("SLA times must be timezone-aware")
    return at.astimezone(UTC)
