"""Reading and validating the SLA file (server/desk/sla.toml, or SLA_CONFIG) with pydantic
models: every bad key is named in the error, so a deployment with a typo refuses to start with
the key to fix. Pydantic checks the structure (required and unknown keys, tables, lists);
server/desk/sla_values.py checks the values it cannot say by type (HH:MM periods, dates, time
zones), and the tables below the rules across keys (known topics, a default row per tier)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Annotated, Any, ClassVar, NamedTuple, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator

from graph.state import Intent
from server.desk.sla_values import ClosedDates, Minutes, Names, Periods, TeamName, Zone, problem

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TOPICS = frozenset(get_args(Intent))
FALLBACK_TIER = "retail"


class SlaConfigError(ValueError):
    """The SLA file is missing, unreadable or invalid; the message names the bad key."""


class Targets(NamedTuple):
    """First-response and resolution times of one SLA cell."""

    first_response: timedelta
    resolution: timedelta


class Hours(NamedTuple):
    """Business hours per weekday and the days closed."""

    periods: tuple[tuple[tuple[int, int], ...], ...]
    """Per weekday (Monday first): open periods as (start, end) minutes after local midnight."""
    closed_dates: frozenset[date]


# --- tables ----------------------------------------------------------------------------------

class _Table(BaseModel):
    """A TOML table: only its own keys, each named in the error when unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    shape: ClassVar[str] = "a table"
    """What the table looks like, for the error when something else stands in its place."""
    required: ClassVar[Mapping[str, str]] = {}
    """Keys with a more helpful error than pydantic's "required" when left out."""

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise problem(f"must be {cls.shape}")
        for key in data:
            if key not in cls.model_fields:
                raise problem(f"unknown key (allowed: {', '.join(sorted(cls.model_fields))})", str(key))
        for key, hint in cls.required.items():
            if key not in data:
                raise problem(hint, key)
        return data


class _Week(_Table):
    required: ClassVar[Mapping[str, str]] = dict.fromkeys(
        DAYS, "required: a list of \"HH:MM-HH:MM\" periods, [] when closed")

    mon: Periods
    tue: Periods
    wed: Periods
    thu: Periods
    fri: Periods
    sat: Periods
    sun: Periods

    @property
    def periods(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        return tuple(getattr(self, day) for day in DAYS)

    @model_validator(mode="after")
    def _open_some_day(self) -> _Week:
        if not any(self.periods):
            raise problem("every day is closed")
        return self


class BusinessHours(_Week):
    """[business_hours]: the desk's week, time zone and closed days."""

    timezone: Zone
    closed_dates: ClosedDates = frozenset()


class TeamHours(_Week):
    """[team_hours.<team>]: a team that keeps other hours than the desk."""

    shape: ClassVar[str] = "a table of days, like business_hours"

    closed_dates: ClosedDates | None = None
    """None: the desk's closed dates."""


class Routing(_Table):
    """[routing]: where the escalation watcher moves unclaimed conversations."""

    fallback_team: TeamName = "escalations"


class Priority(_Table):
    """[priority]: the reasons, tiers and topics that make a handoff urgent or high."""

    urgent_reasons: Names = frozenset()
    high_tiers: Names = frozenset()
    high_topics: Names = frozenset()
    high_reasons: Names = frozenset()


class TargetRow(_Table):
    """One cell of [targets.<tier>]: minutes of open time to first response and to resolution."""

    shape: ClassVar[str] = "a table: { first_response = <minutes>, resolution = <minutes> }"

    first_response: Minutes
    resolution: Minutes

    @model_validator(mode="after")
    def _resolution_after_first_response(self) -> TargetRow:
        if self.resolution < self.first_response:
            raise problem("must not be shorter than first_response", "resolution")
        return self


def _tier(rows: dict[str, TargetRow]) -> dict[str, TargetRow]:
    for topic in rows:
        if topic != "default" and topic not in TOPICS:
            raise problem(f"unknown topic (known: default, {', '.join(sorted(TOPICS))})", topic)
    if "default" not in rows:
        raise problem("required (used for topics not listed)", "default")
    return rows


def _matrix(tiers: dict[str, dict[str, TargetRow]]) -> dict[str, dict[str, TargetRow]]:
    if FALLBACK_TIER not in tiers:
        raise problem("required (used for tiers not listed)", FALLBACK_TIER)
    return tiers


class SlaFile(_Table):
    """The whole file; [routing], [priority] and [team_hours] may be left out."""

    required: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("business_hours", "targets"), "required table is missing")

    business_hours: BusinessHours
    routing: Routing = Routing()
    priority: Priority = Priority()
    targets: Annotated[dict[str, Annotated[dict[str, TargetRow], AfterValidator(_tier)]],
                       AfterValidator(_matrix)]
    team_hours: dict[str, TeamHours] = {}


# --- the entry point -------------------------------------------------------------------------

_PLAIN = {"missing": "required", "dict_type": "must be a table", "string_type": "must be a string"}
"""Pydantic's wording for structural errors, in the file's terms."""


def _one_line(error: ValidationError, source: str) -> SlaConfigError:
    """The first problem as 'SLA config <file>: <dotted key>: <problem>' (list positions left
    out: the message quotes the bad value)."""
    first = error.errors()[0]
    context = first.get("ctx") or {}
    path = [str(part) for part in first["loc"] if not isinstance(part, int)]
    if context.get("key"):
        path.append(str(context["key"]))
    what = _PLAIN.get(first["type"], first["msg"])
    more = error.error_count() - 1
    return SlaConfigError(f"SLA config {source}: {'.'.join(path) or 'the file'}: {what}"
                          + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""))


def parse(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A parsed SLA file, validated, as SlaPolicy's fields; SlaConfigError names the first
    bad key."""
    try:
        config = SlaFile.model_validate(data)
    except ValidationError as error:
        raise _one_line(error, source) from None
    hours = config.business_hours
    return {
        "timezone": hours.timezone, "hours": hours.periods, "closed_dates": hours.closed_dates,
        "matrix": {tier: {topic: Targets(row.first_response, row.resolution)
                          for topic, row in rows.items()} for tier, rows in config.targets.items()},
        "fallback_team": config.routing.fallback_team,
        "team_hours": {team: Hours(table.periods, hours.closed_dates if table.closed_dates is None
                                   else table.closed_dates)
                       for team, table in config.team_hours.items()},
        **{name: getattr(config.priority, name) for name in Priority.model_fields},
    }
