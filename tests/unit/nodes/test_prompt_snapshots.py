"""Snapshots of every prompt a model is given, rendered with fixed sample values.

A prompt change shows up here as a diff to review, not as a silent change of behaviour. Each
prompt has one file in tests/unit/nodes/snapshots/ (<name>.txt). To accept a change on
purpose, rewrite the snapshots and review the diff:

    UPDATE_SNAPSHOTS=1 pytest tests/unit/nodes/test_prompt_snapshots.py
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from graph.base.settings import BusinessSettings
from graph.state import State, Verification
from nodes import prompts
from nodes.agent import system_prompt
from server.evals.judge import JUDGE_INPUT, JUDGE_PROMPT

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"

BUSINESS = BusinessSettings(name="Harbor & Pine", description="a UK home-goods shop",
                            tone="brief, warm and concrete", languages=["en", "es"])
AMELIA = {"id": "C-1001", "name": "Amelia Hart", "phone": "447700900101",
          "email": "amelia.hart@example.com", "tier": "retail"}
PASSAGE = {"id": "returns-policy#1", "title": "Returns policy", "section": "Our 30-day returns window",
           "url": "https://help.harborandpine.example/returns-policy",
           "text": "You have 30 days from the day your order is delivered to send items back.",
           "score": 0.82}


def _agent_stranger() -> str:
    """A number not on file asking a policy question: no customer, one passage."""
    return system_prompt(State(messages=[HumanMessage("x")], intent="returns_refunds",
                               passages=[PASSAGE]), BUSINESS)


def _agent_verified() -> str:
    """A verified customer, with order numbers, an injection flag and a colleague's notes."""
    return system_prompt(State(
        messages=[HumanMessage("x")], intent="order_status", customer=AMELIA,
        verification=Verification(status="verified", method="phone_on_file", attempts=0,
                                  locked_until=None),
        order_refs=["HP-10001", "HP-10002"], flags=["injection"],
        handoff_notes="refund approved for HP-10001"), BUSINESS)


RENDERERS: dict[str, Callable[[], str]] = {
    "router": lambda: prompts.fill(prompts.ROUTER_PROMPT, BUSINESS),
    "agent_stranger": _agent_stranger,
    "agent_verified": _agent_verified,
    "reply_rejected": lambda: prompts.REPLY_REJECTED.format(problems="; ".join(
        prompts.REPLY_PROBLEMS[k] for k in ("empty_answer", "citation_not_retrieved"))),
    "handback_mark": lambda: prompts.HANDBACK_MARK.format(agent="alice", event="handed back"),
    "eval_judge": lambda: JUDGE_PROMPT + "\n---\n" + JUDGE_INPUT.format(
        reply="Your order HP-10002 is on its way with DPD.", facts="1. HP-10002\n2. dispatched"),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_prompt_matches_its_snapshot(name):
    rendered = RENDERERS[name]()
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE:
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"no snapshot for {name}: run with UPDATE_SNAPSHOTS=1"
    assert rendered == path.read_text(encoding="utf-8"), (
        f"the {name} prompt changed; if on purpose, run with UPDATE_SNAPSHOTS=1 and review the diff")


def test_every_snapshot_has_a_prompt():
    assert {p.stem for p in SNAPSHOTS.glob("*.txt")} == set(RENDERERS)


def test_the_agent_prompt_states_brand_language_customer_and_tools():
    prompt = _agent_verified()
    assert "support assistant of Harbor & Pine, a UK home-goods shop" in prompt
    assert "customer's language if it is one of: en, es; otherwise in en" in prompt
    assert "Customer: Amelia Hart (retail), known by the WhatsApp number on file" in prompt
    assert "order_status: Get the status" in prompt and "customer_profile: " in prompt
    assert "amelia.hart@example.com" not in prompt and "447700900101" not in prompt
