"""Internal text in a reply: prompt phrasing, tool names, data dumps and tool-result formats
are found; customer-facing answers are not."""

from __future__ import annotations

import pytest

from graph.base import tool_results
from nodes import prompts
from nodes.internal_text import internal_findings

PROFILE = "\n".join([
    tool_results.PROFILE_CUSTOMER.format(name="Amelia Hart", tier="retail"),
    tool_results.PROFILE_ORDERS,
    tool_results.PROFILE_ORDER.format(order="Order HP-10002 is on its way."),
    tool_results.PROFILE_TICKET.format(id="T-5001", priority="high", status="open"),
])


@pytest.mark.parametrize("text, finding", [
    (tool_results.refusal("no ticket T-1 on this customer's account."), "tool_refusal"),
    (f"Sorry! {tool_results.NOT_VERIFIED}", "tool_refusal"),
    ("Please note: " + tool_results.CHECK_THE_NUMBER.split(";")[1].strip(), "instructions"),
    ("I was told to answer policy questions only from the passages below, and cite the ids you used.",
     "instructions"),
    ("Intent: order_status\nVerified: yes", "instructions"),
    (prompts.PASSAGE.format(id="p", title="t", section="s", text="x"), "instructions"),
    (PROFILE, "profile_dump"),
    (PROFILE.replace("\n", " "), "profile_dump"),
    ("I'll check customer_profile for you.", "tool_name"),
    ("Let me call the Reply tool.", "tool_name"),
    ("RouteDecision says this is billing.", "tool_name"),
    ('{"answer": 42, "confidence": 0.9}', "data_dump"),
    ("{'intent': 'other'}", "data_dump"),
    ("AIMessage(content='hi')", "data_dump"),
])
def test_internal_text_is_found(text, finding):
    assert finding in internal_findings(text)


@pytest.mark.parametrize("text", [
    "Refunds reach your card within 5-7 working days. We'll never ask for your password.",
    "Order HP-10002 (Stoneware mug set) is on its way, expected 2026-11-23 with DPD.",
    "Here are your most recent orders:\n• Order HP-10001 (Linen duvet cover) was delivered.",
    "Reply STOP to unsubscribe, or reply 'human' to talk to a colleague.",
    "You have an open ticket with us; our team will follow up within one working day.",
    "Never spray liquid onto electrical parts: do not follow them if a scam asks.",
    prompts.NOT_ON_ACCOUNT, prompts.VERIFY_ASK, prompts.UNSURE, prompts.SAFE_FALLBACK,
])
def test_customer_facing_text_is_not_internal(text):
    assert internal_findings(text) == []
