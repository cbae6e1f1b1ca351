"""The offline brain's replies after a tool ran: templates from nodes/prompts.py filled with
facts read from the result (graph/base/tool_results.py formats). A tool result is data for
the reply, never the reply: a refusal, a profile or a ticket note is never passed on as it is."""

from __future__ import annotations

import re

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from graph.base import tool_results as formats
from nodes import prompts
from nodes.order_choice import Option, which_order_question

_DESCRIBED = re.compile(r"Order (?P<ref>HP-\d+)(?: \((?P<items>.*)\))? (?:is|was) ")
"""An order as tools/orders.py describe_order writes it: its number and its items."""


def tool_name(result: ToolMessage, messages: list[BaseMessage]) -> str | None:
    """The tool that wrote `result`: its own name, else the call it answers."""
    if result.name:
        return result.name
    for message in messages:
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                if call["id"] == result.tool_call_id:
                    return call["name"]
    return None


def reply_after_tool(tool: str | None, result: str) -> str | None:
    """The customer-facing answer to a tool's result; None when the result gives none (the
    brain then answers from the passages, or brings in a human)."""
    if formats.is_refusal(result):
        return prompts.VERIFY_ASK if result.strip() == formats.NOT_VERIFIED else prompts.NOT_ON_ACCOUNT
    if tool == "customer_profile":
        return _recent_orders(result)
    if tool == "order_status":
        order = result.strip()
        return prompts.ORDER_UPDATE.format(order=order) if order.startswith("Order ") else None
    if tool == "create_ticket" and (ticket := formats.fields_of(formats.TICKET_OPENED, result)):
        return prompts.TICKET_OPENED_REPLY.format(**ticket)
    if tool == "update_ticket" and (ticket := formats.fields_of(formats.TICKET_UPDATED, result)):
        return prompts.TICKET_UPDATED_REPLY.format(**ticket)
    return None


def _recent_orders(profile: str) -> str:
    """The profile's orders only, never the customer's name, tier or tickets: the only order's
    news, or the question which of them the customer means (nodes/order_choice.py)."""
    orders = [fields["order"] for line in profile.splitlines()
              if (fields := formats.fields_of(formats.PROFILE_ORDER, line))]
    if not orders:
        return prompts.NO_ORDERS_REPLY
    if len(orders) == 1:
        return prompts.ORDER_UPDATE.format(order=orders[0])
    options = [Option(m["ref"], m["items"] or "") for order in orders if (m := _DESCRIBED.match(order))]
    return which_order_question(options)
