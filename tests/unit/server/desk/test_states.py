"""The desk's vocabularies, and the desk state each graph status implies."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from graph.state import Status
from server.desk.sla import bump
from server.desk.states import (
    HUMAN_STATES,
    AgentRole,
    DeskState,
    Priority,
    after_handback,
    desk_state_for,
    owned_by_human,
)

SCHEMA = (Path(__file__).parents[4] / "server" / "migrations" / "0001_initial.sql").read_text()

EXPECTED = {
    "new": DeskState.BOT, "authenticated": DeskState.BOT, "automated": DeskState.BOT,
    "human": DeskState.PENDING_AGENT, "closed": DeskState.CLOSED, "dormant": DeskState.DORMANT,
}


@pytest.mark.parametrize("status", get_args(Status))
def test_every_graph_status_implies_a_desk_state(status):
    assert desk_state_for(status) is EXPECTED[status]
    assert owned_by_human(status) == (status == "human")


def test_the_table_covers_exactly_the_graph_statuses():
    assert set(EXPECTED) == set(get_args(Status))


def test_a_hand_back_leads_where_the_graph_moves():
    assert after_handback("return_to_bot") is DeskState.BOT
    assert after_handback("resolved") is DeskState.CLOSED


def _check_values(column: str) -> set[str]:
    match = re.search(rf"{column} text NOT NULL DEFAULT '\w+'\s*CHECK \({column} IN \(([^)]*)\)\)", SCHEMA)
    assert match, column
    return {v.strip().strip("'") for v in match.group(1).split(",")}


def test_enums_are_the_stored_strings():
    assert {s.value for s in DeskState} == _check_values("state")
    assert {p.value for p in Priority} == _check_values("priority")
    assert DeskState.AGENT == "AGENT" and Priority.URGENT == "urgent" and AgentRole.SUPERVISOR == "supervisor"
    assert set(HUMAN_STATES) == {"PENDING_AGENT", "AGENT"}


def test_priorities_rise_in_order():
    assert [p.value for p in Priority] == ["low", "normal", "high", "urgent"]
    assert [bump(p) for p in Priority] == ["normal", "high", "urgent", "urgent"]
    assert bump("unknown") == "high"  # counts as normal
