"""One golden turn's checks: facts, forbidden content, tool calls with an argument subset,
intent and handoff, and the judge's verdicts."""

from __future__ import annotations

import pytest

from server.evals.checks import (
    args_match,
    check_turn,
    fact_found,
    forbidden_found,
    missing_facts,
    missing_tool_calls,
)
from server.evals.golden import GoldenTurn, ToolExpectation
from server.evals.judge import parse_verdicts

REPLY = "Here's the latest. Order *HP-10002* (Stoneware mug set) is on its way with DPD."


@pytest.mark.parametrize("fact, found", [
    ("hp-10002", True), ("ON ITS WAY", True), (["dispatched", "on its way"], True),
    ("mug set", True), ("dispatched", False), (["delivered", "cancelled"], False),
    ("HP-10002 (Stoneware", True),  # WhatsApp emphasis marks do not hide a fact
])
def test_a_fact_is_found_ignoring_case_and_with_alternatives(fact, found):
    assert fact_found(fact, REPLY) is found


def test_accents_and_spacing_do_not_hide_a_fact():
    assert fact_found("esta en camino", "Su pedido  está\nen camino.")
    assert missing_facts(["pedido", "Tage"], "Su pedido") == ["Tage"]


def test_forbidden_content_is_reported():
    assert forbidden_found(["DPD", "Ravi", "hp-10003"], REPLY) == ["DPD"]


def test_tool_arguments_are_a_subset_compared_without_case():
    assert args_match({"order_id": "hp-10002"}, {"order_id": "HP-10002", "extra": 1})
    assert args_match({}, {"anything": "goes"})
    assert not args_match({"order_id": "HP-10001"}, {"order_id": "HP-10002"})
    assert not args_match({"priority": "high"}, {"subject": "x"})
    assert args_match({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}})


def test_every_expected_tool_call_needs_a_matching_call():
    calls = [{"name": "order_status", "args": {"order_id": "HP-10010"}}]
    wanted = [ToolExpectation(name="order_status", args={"order_id": "HP-10009"}),
              ToolExpectation(name="order_status", args={"order_id": "HP-10010"})]
    assert missing_tool_calls(wanted, calls) == [wanted[0]]
    assert missing_tool_calls([ToolExpectation(name="customer_profile")], calls) == [
        ToolExpectation(name="customer_profile")]


def test_a_turn_that_does_what_was_expected_passes_every_check():
    turn = GoldenTurn(say="where is HP-10002?", intent="order_status", handoff=False,
                      tools=[{"name": "order_status", "args": {"order_id": "HP-10002"}}],
                      must_contain=["HP-10002", ["dispatched", "on its way"]],
                      must_not_contain=["Ravi"])
    checks = check_turn(turn, intent="order_status", reply=REPLY, handed_off=False,
                        calls=[{"name": "order_status", "args": {"order_id": "HP-10002"}}])
    assert [c.name for c in checks] == ["intent", "tools", "facts", "forbidden", "handoff"]
    assert all(c.passed for c in checks)


def test_each_failure_says_what_went_wrong():
    turn = GoldenTurn(say="x", intent="billing", tools=[], handoff=True,
                      must_contain=["refund"], must_not_contain=["DPD"])
    checks = {c.name: c for c in check_turn(
        turn, intent="order_status", reply=REPLY, handed_off=False,
        calls=[{"name": "order_status", "args": {"order_id": "HP-10002"}}])}
    assert not any(c.passed for c in checks.values())
    assert checks["intent"].detail == "expected billing, got order_status"
    assert checks["tools"].detail == "unexpected: order_status(order_id='HP-10002')"
    assert checks["facts"].detail == "missing refund"
    assert checks["forbidden"].detail == "contains DPD"
    assert checks["handoff"].detail == "expected a handoff"


def test_unset_expectations_are_not_checked():
    assert check_turn(GoldenTurn(say="x"), intent=None, calls=[], reply="", handed_off=True) == []


def test_a_fact_the_judge_found_stated_passes():
    turn = GoldenTurn(say="x", must_contain=["within 30 days", ["5-7 working days", "a week"]])
    reply = "You have a month to send it back."
    assert not check_turn(turn, intent=None, calls=[], reply=reply, handed_off=False)[0].passed
    judged = {"within 30 days": True, "5-7 working days | a week": True}
    assert check_turn(turn, intent=None, calls=[], reply=reply, handed_off=False,
                      judged=judged)[0].passed


@pytest.mark.parametrize("answer, verdicts", [
    ("[true, false]", [True, False]), ("```json\n[true, true]\n```", [True, True]),
    ("[true]", [True, False]), ("yes", [False, False]), ("[1, \"true\"]", [False, False]),
])
def test_judge_verdicts_are_read_strictly(answer, verdicts):
    assert parse_verdicts(answer, 2) == verdicts


async def test_the_judge_is_asked_once_about_the_facts_not_found():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from server.evals.judge import judge_facts

    judge = FakeListChatModel(responses=["[true, false]"])
    verdicts = await judge_facts(judge, ["within 30 days", ["a refund", "money back"]],
                                 "You have a month to send it back.")
    assert verdicts == {"within 30 days": True, "a refund | money back": False}
    assert await judge_facts(judge, [], "anything") == {}
