"""The SLA file's pydantic models (server/desk/sla_config.py): the same inputs and defaults as
the file documents, and one clear line naming the key for a bad file."""

from __future__ import annotations

import copy
import tomllib
from datetime import date, timedelta

import pytest

from server.desk import sla
from server.desk.sla import DAYS, SlaConfigError, SlaPolicy

BUNDLED = tomllib.loads(sla.BUNDLED.read_text())


def load(**tables) -> SlaPolicy:
    data = copy.deepcopy(BUNDLED)
    for name, table in tables.items():
        if table is None:
            data.pop(name)
        else:
            data[name] = table
    return SlaPolicy.from_dict(data, source="test.toml")


def error(**tables) -> str:
    with pytest.raises(SlaConfigError) as raised:
        load(**tables)
    return str(raised.value)


def test_optional_tables_have_their_defaults():
    policy = load(routing=None, priority=None)
    assert policy.fallback_team == "escalations"
    assert policy.urgent_reasons == policy.high_tiers == frozenset()
    assert policy.priority("vip", "complaint", "legal_threat") == "normal"
    assert policy.team_hours == {}


def test_accepted_inputs_are_normalised():
    hours = {**BUNDLED["business_hours"], "mon": ["13:00-17:30", "08:00-12:00"],
             "closed_dates": ["2026-12-25", date(2026, 12, 26)]}
    routing = {"fallback_team": "  on-call  "}
    targets = {**BUNDLED["targets"], "retail": {"default": {"first_response": 1.5, "resolution": 90}}}
    policy = load(business_hours=hours, routing=routing, targets=targets)
    assert policy.hours[0] == ((480, 720), (780, 1050))
    assert policy.closed_dates == {date(2026, 12, 25), date(2026, 12, 26)}
    assert policy.fallback_team == "on-call"
    assert policy.targets("nobody", "billing").first_response == timedelta(seconds=90)


def test_a_team_without_its_own_closed_dates_keeps_the_desks():
    own = {d: ["00:00-24:00"] for d in DAYS}
    policy = load(team_hours={"night": own, "xmas": {**own, "closed_dates": []}})
    assert policy.team_hours["night"].closed_dates == policy.closed_dates != frozenset()
    assert policy.team_hours["xmas"].closed_dates == frozenset()


@pytest.mark.parametrize(("tables", "line"), [
    ({"business_hours": None}, "business_hours: required table is missing"),
    ({"business_hours": {**BUNDLED["business_hours"], "mon": None}}, "business_hours.mon: must be a list"),
    ({"team_hours": {"night": {"mon": ["00:00-24:00"]}}}, "team_hours.night.tue: required: a list of"),
    ({"team_hours": {"night": 7}}, "team_hours.night: must be a table of days"),
    ({"routing": {"fallback_team": 3}}, "routing.fallback_team: must be a string"),
    ({"routing": {"fallback_team": "  "}}, "routing.fallback_team: must be a team name"),
    ({"priority": {"high_tiers": ["vip", 1]}}, "priority.high_tiers: must be a list of strings"),
    ({"targets": {"retail": {"default": {"first_response": True, "resolution": 60}}}},
     "targets.retail.default.first_response: must be a positive number of minutes, got True"),
    ({"targets": {"retail": {"default": {"first_response": "15", "resolution": 60}}}},
     "targets.retail.default.first_response: must be a positive number of minutes, got '15'"),
    ({"targets": {"retail": {"default": 15}}}, "targets.retail.default: must be a table: {"),
    ({"targets": {"vip": BUNDLED["targets"]["vip"]}}, "targets.retail: required (used for tiers"),
    ({"business_hours": {**BUNDLED["business_hours"], "closed_dates": [date(2026, 1, 1), 5]}},
     "business_hours.closed_dates: 5 is not a date"),
])
def test_a_bad_file_is_one_line_naming_the_key(tables, line):
    message = error(**tables)
    assert message.startswith(f"SLA config test.toml: {line}")
    assert "\n" not in message and "pydantic" not in message.lower()


def test_several_problems_are_counted_after_the_first():
    message = error(team_hours={"night": {}})
    assert message.startswith("SLA config test.toml: team_hours.night.mon: required")
    assert error(routing={"fallback_team": 3}, priority={"high_tiers": "vip"}) \
        .endswith("(and 1 more problem)")
