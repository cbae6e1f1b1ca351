"""How tool results are written: the formats the tools write and the markers of text that is
for the model only.

A tool result is data for the reply, never the reply. The tools (tools/) write their results
with these formats; the output guardrail (nodes/internal_text.py) refuses a reply that carries
them, and the offline brain (nodes/brain_replies.py) reads facts out of them to fill its own
templates. Kept at the bottom layer so the brain, which the services import, can read them
without importing the tools.
"""

from __future__ import annotations

import re
import string

REFUSED = "Refused:"
"""Starts every tool refusal: what follows is said to the model, not to the customer."""

CHECK_THE_NUMBER = "Ask them to check the number; never discuss orders on other accounts."
VERIFY_FIRST = "Tell them you need to verify them first; do not guess."
INSTRUCTIONS = (CHECK_THE_NUMBER, VERIFY_FIRST)
"""Instructions tool results give the model; a reply must never repeat them."""

NOT_VERIFIED = f"{REFUSED} the customer is not verified yet. {VERIFY_FIRST}"
"""The identity gate's answer to any customer-data tool for an unverified customer."""

PROFILE_CUSTOMER = "{name} ({tier} customer)."
PROFILE_ORDERS = "Recent orders:"
PROFILE_ORDER = "- {order}"
PROFILE_NO_ORDERS = "No orders yet."
PROFILE_TICKET = "Open ticket {id} ({priority} priority, {status})."
PROFILE_MARKERS = (PROFILE_CUSTOMER, PROFILE_ORDERS, PROFILE_TICKET)
"""Lines of the customer_profile result that only a raw dump of it carries."""

ORDER_STATUSES = {
    "processing": "is being prepared in our warehouse",
    "dispatched": "is on its way",
    "out_for_delivery": "is out for delivery today",
    "delivered": "was delivered",
    "awaiting_collection": "is ready to collect in store",
    "cancelled": "was cancelled",
}
"""How tools/orders.py `describe_order` says each order status."""
ORDER_SENTENCE = re.compile(
    r"Order (?P<ref>HP-\d+) \((?P<items>[^\n]*?)\) (?P<status>"
    + "|".join(map(re.escape, ORDER_STATUSES.values()))
    + r")(?:, expected (?P<eta>[^,.\n]+?))?(?: with (?P<carrier>[^.\n]+?))?\.(?: Track it here: (?P<url>\S+))?")
"""The sentence `describe_order` writes, its parts named (for the brain to say it in another
language)."""

TICKET_OPENED = ("I've opened ticket {id} ({kind}). Our team will follow up within one "
                 "working day.")
TICKET_UPDATED = "Ticket {id} updated; it is now {status}."


def refusal(reason: str, instruction: str = "") -> str:
    """A tool's refusal: the REFUSED marker, why, and what the model should do instead."""
    return " ".join(part for part in (REFUSED, reason, instruction) if part)


def is_refusal(text: str) -> bool:
    """Whether a tool result is a refusal."""
    return text.lstrip().startswith(REFUSED)


def template_pattern(template: str) -> re.Pattern[str]:
    """A pattern matching `template` on one line, each `{field}` a named group."""
    parts = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field:
            parts.append(rf"(?P<{field}>[^\n]{{1,200}}?)")
    return re.compile("".join(parts))


def fields_of(template: str, text: str) -> dict[str, str] | None:
    """The fields of a text written with `template`, or None when it is not such a text."""
    match = template_pattern(template).fullmatch(text.strip())
    return match.groupdict() if match else None
