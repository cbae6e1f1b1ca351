"""The offline brain answers from tool results with its own templates, never with the result."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from graph.base import tool_results
from graph.state import State
from nodes import prompts
from nodes.agent import system_prompt
from nodes.brain import OfflineBrain
from nodes.brain_replies import reply_after_tool, tool_name
from nodes.schemas import Reply
from tools import TOOLS

PROFILE = "\n".join([
    tool_results.PROFILE_CUSTOMER.format(name="Amelia Hart", tier="retail"),
    tool_results.PROFILE_ORDERS,
    tool_results.PROFILE_ORDER.format(order="Order HP-10002 (Stoneware mug set (4)) is on its way."),
    tool_results.PROFILE_ORDER.format(order="Order HP-10001 (Linen duvet cover) was delivered."),
    tool_results.PROFILE_TICKET.format(id="T-5001", priority="high", status="open"),
])
VERIFIED = {"status": "verified", "method": "phone_on_file", "attempts": 0, "locked_until": None}


def test_a_profile_becomes_the_question_which_order_without_name_tier_or_tickets():
    answer = reply_after_tool("customer_profile", PROFILE)
    assert answer == prompts.ORDER_CHOICE_ASK.format(
        options="1) HP-10002 Stoneware mug set (4)\n2) HP-10001 Linen duvet cover")
    assert "Amelia" not in answer and "retail" not in answer and "T-5001" not in answer


def test_a_profile_with_one_order_gives_that_order_s_news():
    profile = "\n".join([tool_results.PROFILE_CUSTOMER.format(name="Ravi", tier="vip"),
                         tool_results.PROFILE_ORDERS,
                         tool_results.PROFILE_ORDER.format(order="Order HP-10003 (Oak table) is being prepared.")])
    assert reply_after_tool("customer_profile", profile) == prompts.ORDER_UPDATE.format(
        order="Order HP-10003 (Oak table) is being prepared.")


def test_a_profile_without_orders_says_so_in_our_words():
    profile = "\n".join([tool_results.PROFILE_CUSTOMER.format(name="Ravi", tier="vip"),
                         tool_results.PROFILE_NO_ORDERS])
    assert reply_after_tool("customer_profile", profile) == prompts.NO_ORDERS_REPLY


def test_refusals_are_answered_by_templates():
    refused = tool_results.refusal("no order HP-10003 on this customer's account.",
                                   tool_results.CHECK_THE_NUMBER)
    assert reply_after_tool("order_status", refused) == prompts.NOT_ON_ACCOUNT
    assert reply_after_tool("update_ticket", tool_results.refusal("no ticket T-1.")) == prompts.NOT_ON_ACCOUNT
    assert reply_after_tool("order_status", tool_results.NOT_VERIFIED) == prompts.VERIFY_ASK


def test_ticket_results_are_read_for_their_facts():
    opened = tool_results.TICKET_OPENED.format(id="T-5002", kind="high priority")
    updated = tool_results.TICKET_UPDATED.format(id="T-5002", status="resolved")
    assert reply_after_tool("create_ticket", opened) == prompts.TICKET_OPENED_REPLY.format(
        id="T-5002", kind="high priority")
    assert reply_after_tool("update_ticket", updated) == prompts.TICKET_UPDATED_REPLY.format(
        id="T-5002", status="resolved")
    assert reply_after_tool("update_ticket", "something else entirely") is None


def test_the_tool_is_known_by_the_call_a_result_answers():
    call = {"name": "customer_profile", "args": {}, "id": "call_1", "type": "tool_call"}
    messages = [AIMessage("", tool_calls=[call]), ToolMessage("x", tool_call_id="call_1")]
    assert tool_name(messages[1], messages) == "customer_profile"
    assert tool_name(ToolMessage("x", tool_call_id="c", name="order_status"), []) == "order_status"


def test_where_is_my_order_never_dumps_the_profile():
    state = State(messages=[HumanMessage("Where is my order?")], intent="order_status",
                  verification=VERIFIED)
    brain = OfflineBrain().bind_tools([*TOOLS, Reply])
    prompt = SystemMessage(system_prompt(state))
    first = brain.invoke([prompt, *state.messages]).tool_calls[0]
    assert first["name"] == "customer_profile"
    called = AIMessage("", tool_calls=[first])
    final = brain.invoke([prompt, *state.messages, called,
                          ToolMessage(PROFILE, tool_call_id=first["id"])]).tool_calls[0]
    assert final["name"] == "Reply" and "1) HP-10002" in final["args"]["answer"]
    assert "Amelia" not in final["args"]["answer"] and "Recent orders:" not in final["args"]["answer"]


def test_a_result_with_no_template_is_answered_from_passages_not_another_tool_call():
    state = State(messages=[HumanMessage("Where is my order?")], intent="order_status",
                  verification=VERIFIED)
    call = {"name": "returns_policy", "args": {"question": "x"}, "id": "call_9", "type": "tool_call"}
    final = OfflineBrain().bind_tools([*TOOLS, Reply]).invoke([
        SystemMessage(system_prompt(state)), *state.messages, AIMessage("", tool_calls=[call]),
        ToolMessage("No policy passage found.", tool_call_id="call_9")]).tool_calls[0]
    assert final["name"] == "Reply" and final["args"]["answer"] == prompts.UNSURE
