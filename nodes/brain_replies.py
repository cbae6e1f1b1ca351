"""The offline brain's replies after a tool ran: templates from nodes/prompts.py filled with
facts read from the result (graph/base/tool_results.py formats). A tool result is data for
the reply, never the reply: a refusal, a profile or a ticket note is never passed on as it is."""

from __future__ import annotations

import re

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from graph.base import tool_results as formats
from nodes import prompts
from nodes.order_choice import Option, which_order_question
from nodes.prompts_i18n import localized

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


def reply_after_tool(tool: str | None, result: str, language: str = "en") -> str | None:
    """The customer-facing answer to a tool's result, in `language`; None when the result
    gives none (the brain then answers from the passages, or brings in a human). The order
    sentence a tool writes stays as written (English)."""
    if formats.is_refusal(result):
        refused = prompts.VERIFY_ASK if result.strip() == formats.NOT_VERIFIED else prompts.NOT_ON_ACCOUNT
        return localized(refused, language)
    if tool == "customer_profile":
        return _recent_orders(result, language)
    if tool == "order_status":
        order = result.strip()
        return _order_update(order, language) if order.startswith("Order ") else None
    if tool == "create_ticket" and (ticket := formats.fields_of(formats.TICKET_OPENED, result)):
        return localized(prompts.TICKET_OPENED_REPLY, language).format(**ticket)
    if tool == "update_ticket" and (ticket := formats.fields_of(formats.TICKET_UPDATED, result)):
        return localized(prompts.TICKET_UPDATED_REPLY, language).format(**ticket)
    return None


def _recent_orders(profile: str, language: str) -> str:
    """The profile's orders only, never the customer's name, tier or tickets: the only order's
    news, or the question which of them the customer means (nodes/order_choice.py)."""
    orders = [fields["order"] for line in profile.splitlines()
              if (fields := formats.fields_of(formats.PROFILE_ORDER, line))]
    if not orders:
        return localized(prompts.NO_ORDERS_REPLY, language)
    if len(orders) == 1:
        return _order_update(orders[0], language)
    options = [Option(m["ref"], m["items"] or "") for order in orders if (m := _DESCRIBED.match(order))]
    return which_order_question(options, language)


def _order_update(sentence: str, language: str) -> str:
    """ORDER_UPDATE with the tool's order sentence, said again in `language` from its parts
    (number, items, status, date, carrier, link); a sentence not of that shape stays as it is."""
    parts = formats.ORDER_SENTENCE.fullmatch(sentence)
    if language != "en" and parts:
        said = localized(prompts.ORDER_SENTENCE, language).format(
            ref=parts["ref"], items=parts["items"], status=localized(parts["status"], language))
        if parts["eta"]:
            said += localized(prompts.ORDER_EXPECTED, language).format(eta=parts["eta"])
        if parts["carrier"]:
            said += localized(prompts.ORDER_CARRIER, language).format(carrier=parts["carrier"])
        said += "." + (localized(prompts.ORDER_TRACK, language).format(url=parts["url"]) if parts["url"] else "")
        sentence = said
    return localized(prompts.ORDER_UPDATE, language).format(order=sentence)
