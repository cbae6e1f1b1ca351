"""The SLA file's single values, as pydantic validators: "HH:MM-HH:MM" periods, closed dates,
time zones, minutes and name lists. Each error says what is wrong with the value; the table
models in server/desk/sla_config.py add where it is."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError


def problem(text: str, key: str | None = None) -> PydanticCustomError:
    """A validation error; `key` names the entry inside the table being checked."""
    return PydanticCustomError("sla", "{problem}", {"problem": text, "key": key})


def _clock(text: str) -> int:
    hours, sep, minutes = text.strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise problem(f"{text!r} is not a HH:MM time")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 1440:
        raise problem(f"{text!r} is not a time between 00:00 and 24:00")
    return value


def _periods(value: Any) -> tuple[tuple[int, int], ...]:
    """["08:00-12:00", "13:00-20:00"] -> ((480, 720), (780, 1200)); "24:00" ends at midnight."""
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise problem("must be a list of \"HH:MM-HH:MM\" strings, e.g. [\"08:00-20:00\"]")
    parsed = []
    for period in value:
        start_text, sep, end_text = period.partition("-")
        if not sep:
            raise problem(f"{period!r} is not a \"HH:MM-HH:MM\" period")
        start, end = _clock(start_text), _clock(end_text)
        if end <= start:
            raise problem(f"{period!r} ends before it starts")
        parsed.append((start, end))
    parsed.sort()
    for (_, end), (start, _) in zip(parsed, parsed[1:], strict=False):
        if start < end:
            raise problem("periods overlap")
    return tuple(parsed)


def _closed_dates(value: Any) -> frozenset[date]:
    """TOML dates (2026-12-25) or "YYYY-MM-DD" strings; a date-time is not a day."""
    if not isinstance(value, list):
        raise problem("must be a list of dates, e.g. [2026-12-25]")
    dates = set()
    for item in value:
        if isinstance(item, datetime) or not isinstance(item, date | str):
            raise problem(f"{item!r} is not a date")
        try:
            dates.add(date.fromisoformat(item) if isinstance(item, str) else item)
        except ValueError:
            raise problem(f"{item!r} is not a YYYY-MM-DD date") from None
    return frozenset(dates)


def _zone(value: Any) -> ZoneInfo:
    if not isinstance(value, str) or not value:
        raise problem("required, e.g. \"Europe/London\"")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise problem(f"unknown timezone {value!r}") from None


def _minutes(value: Any) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 10**7:
        raise problem(f"must be a positive number of minutes, got {value!r}")
    return timedelta(minutes=value)


def _strings(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise problem("must be a list of strings")
    return frozenset(value)


def _team_name(value: str) -> str:
    if not value.strip():
        raise problem("must be a team name")
    return value.strip()


Periods = Annotated[tuple[tuple[int, int], ...], BeforeValidator(_periods)]
ClosedDates = Annotated[frozenset[date], BeforeValidator(_closed_dates)]
Minutes = Annotated[timedelta, BeforeValidator(_minutes)]
Names = Annotated[frozenset[str], BeforeValidator(_strings)]
Zone = Annotated[ZoneInfo, BeforeValidator(_zone)]
TeamName = Annotated[str, AfterValidator(_team_name)]
