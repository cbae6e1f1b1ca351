"""The report's time window from what a person types: "7d", "24h", "30m", "2w" (that long
before now) or an ISO date or date-time ("2026-12-01", "2026-12-01T09:00:00+01:00"; without
an offset it is UTC). The one reading shared by the CLI and the console's dashboard."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

MAX_SPAN = timedelta(days=366)
"""The longest window a report covers (its per-day series has one point a day)."""
_RELATIVE = re.compile(r"^(\d{1,6})([mhdw])$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
          "w": timedelta(weeks=1)}


class BadWindow(ValueError):
    """A window that cannot be read or makes no sense; the message says why in one line."""


def moment(text: str, now: datetime) -> datetime:
    """The time `text` names: a span before `now` ("7d") or an ISO date or date-time (UTC
    unless it says otherwise)."""
    text = text.strip()
    if match := _RELATIVE.match(text.lower()):
        try:
            return now - int(match[1]) * _UNITS[match[2]]
        except OverflowError:  # before the year 1: far longer than any window
            raise BadWindow(f"{text!r} reaches back too far") from None
    try:
        if len(text) == 10:  # a date alone: its start, in UTC
            return datetime.combine(date.fromisoformat(text), time(), UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        shown = text[:40]
        raise BadWindow(f"{shown!r} is not a time: use 7d, 24h, 30m, 2w or an ISO date"
                        " such as 2026-12-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def window(since: str, until: str | None = None,
           now: datetime | None = None) -> tuple[datetime, datetime]:
    """[since, until) in UTC; `until` defaults to now. Refuses an empty or reversed window
    and one longer than MAX_SPAN."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    start = moment(since, now).astimezone(UTC)
    end = moment(until, now).astimezone(UTC) if until else now
    if start >= end:
        raise BadWindow("--since must be before --until (and before now)")
    if end - start > MAX_SPAN:
        raise BadWindow(f"a report covers at most {MAX_SPAN.days} days")
    return start, end
