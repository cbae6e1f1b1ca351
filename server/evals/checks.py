"""The checks of one golden turn, as pure functions over what the turn produced: the intent
in state, the tool calls in its messages, the facts in its replies, forbidden content, and
whether it handed off."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from server.evals.golden import Fact, GoldenTurn, ToolExpectation


@dataclass(frozen=True)
class Check:
    """One check's outcome: `name` is intent, tools, facts, forbidden or handoff."""

    name: str
    passed: bool
    detail: str = ""


def _fold(text: str) -> str:
    """Case- and accent-insensitive form, with WhatsApp's emphasis marks and spacing evened out."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode() or text
    return " ".join(plain.replace("*", "").replace("_", " ").casefold().split())


def fact_found(fact: Fact, reply: str) -> bool:
    """Whether the reply states the fact (any of its alternatives), ignoring case and accents."""
    folded = _fold(reply)
    return any(_fold(option) in folded for option in ([fact] if isinstance(fact, str) else fact))


def missing_facts(facts: Sequence[Fact], reply: str) -> list[Fact]:
    """The facts the reply does not state verbatim."""
    return [fact for fact in facts if not fact_found(fact, reply)]


def forbidden_found(forbidden: Sequence[str], reply: str) -> list[str]:
    """The forbidden texts the reply contains."""
    return [text for text in forbidden if fact_found(text, reply)]


def _matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _matches(value, actual[key]) for key, value in expected.items())
    if isinstance(expected, str) and isinstance(actual, str):
        return _fold(expected) == _fold(actual)
    return bool(expected == actual)


def args_match(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    """Whether every expected argument is in `actual` with the same value (strings compared
    ignoring case); arguments not named in `expected` may be anything."""
    return _matches(expected, actual)


def missing_tool_calls(expected: Sequence[ToolExpectation],
                       calls: Sequence[dict[str, Any]]) -> list[ToolExpectation]:
    """The expected tool calls that no actual call (`{"name", "args"}`) matches."""
    return [want for want in expected
            if not any(call["name"] == want.name and args_match(want.args, call.get("args") or {})
                       for call in calls)]


def _describe(call: ToolExpectation | dict[str, Any]) -> str:
    name, args = (call.name, call.args) if isinstance(call, ToolExpectation) else \
        (call["name"], call.get("args") or {})
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})"


def check_turn(turn: GoldenTurn, *, intent: str | None, calls: Sequence[dict[str, Any]],
               reply: str, handed_off: bool,
               judged: dict[str, bool] | None = None) -> list[Check]:
    """Every check the golden turn asks for. `judged`: the LLM judge's verdict on facts not
    found verbatim (by the fact's text; alternatives joined with " | ")."""
    checks: list[Check] = []
    if turn.intent is not None:
        checks.append(Check("intent", intent == turn.intent,
                            "" if intent == turn.intent else f"expected {turn.intent}, got {intent}"))
    if turn.tools is not None:
        if not turn.tools:
            checks.append(Check("tools", not calls, "unexpected: " + ", ".join(
                _describe(c) for c in calls) if calls else ""))
        else:
            missing = missing_tool_calls(turn.tools, calls)
            checks.append(Check("tools", not missing, "" if not missing else (
                "missing " + ", ".join(_describe(m) for m in missing) + "; called "
                + (", ".join(_describe(c) for c in calls) or "nothing"))))
    if turn.must_contain:
        unstated = [f for f in missing_facts(turn.must_contain, reply)
                    if not (judged or {}).get(fact_text(f))]
        checks.append(Check("facts", not unstated, "" if not unstated else
                            "missing " + ", ".join(map(fact_text, unstated))))
    if turn.must_not_contain:
        found = forbidden_found(turn.must_not_contain, reply)
        checks.append(Check("forbidden", not found, "" if not found else "contains " + ", ".join(found)))
    if turn.handoff is not None:
        checks.append(Check("handoff", handed_off == turn.handoff,
                            "" if handed_off == turn.handoff else
                            f"expected {'a' if turn.handoff else 'no'} handoff"))
    return checks


def fact_text(fact: Fact) -> str:
    """A fact as one line: its alternatives joined with " | "."""
    return fact if isinstance(fact, str) else " | ".join(fact)
