"""Reading and validating the SLA file (server/desk/sla.toml, or SLA_CONFIG): every bad key
is named in the error, so a deployment with a typo refuses to start with the key to fix."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from graph.state import Intent

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TOPICS = frozenset(get_args(Intent))
FALLBACK_TIER = "retail"


class SlaConfigError(ValueError):
    """The SLA file is missing, unreadable or invalid; the message names the bad key."""


class Targets(NamedTuple):
    first_response: timedelta
    resolution: timedelta


class Hours(NamedTuple):
    periods: tuple[tuple[tuple[int, int], ...], ...]
    """Per weekday (Monday first): open periods as (start, end) minutes after local midnight."""
    closed_dates: frozenset[date]


def parse(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A parsed SLA file, validated, as SlaPolicy's fields; SlaConfigError names the first
    bad key."""
    def fail(key: str, problem: str) -> SlaConfigError:
        return SlaConfigError(f"SLA config {source}: {key}: {problem}")

    _only(data, {"business_hours", "routing", "priority", "targets", "team_hours"}, "", fail)
    hours_cfg = _table(data, "business_hours", "business_hours", fail)
    _only(hours_cfg, {"timezone", "closed_dates", *DAYS}, "business_hours.", fail)

    tz_name = hours_cfg.get("timezone")
    if not isinstance(tz_name, str) or not tz_name:
        raise fail("business_hours.timezone", "required, e.g. \"Europe/London\"")
    try:
        timezone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise fail("business_hours.timezone", f"unknown timezone {tz_name!r}") from exc

    hours = _week(hours_cfg, "business_hours", fail)
    closed = _closed_dates(hours_cfg.get("closed_dates", []), "business_hours", fail)
    team_hours = {}
    for team, table in _table(data, "team_hours", "team_hours", fail, required=False).items():
        key = f"team_hours.{team}"
        if not isinstance(table, Mapping):
            raise fail(key, "must be a table of days, like business_hours")
        _only(table, {"closed_dates", *DAYS}, f"{key}.", fail)
        team_hours[team] = Hours(_week(table, key, fail), _closed_dates(
            table["closed_dates"], key, fail) if "closed_dates" in table else closed)

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

    return {"timezone": timezone, "hours": hours, "closed_dates": closed, "matrix": matrix,
            "fallback_team": fallback_team.strip(), "team_hours": team_hours, **sets}


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


def _week(table: Mapping[str, Any], key: str, fail) -> tuple[tuple[tuple[int, int], ...], ...]:
    hours = tuple(_day_periods(table, day, fail, key) for day in DAYS)
    if not any(hours):
        raise fail(key, "every day is closed")
    return hours


def _day_periods(hours_cfg: Mapping[str, Any], day: str, fail,
                 table: str = "business_hours") -> tuple[tuple[int, int], ...]:
    key = f"{table}.{day}"
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


def _closed_dates(values: Any, table: str, fail) -> frozenset[date]:
    key = f"{table}.closed_dates"
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
