"""Authenticate: verify the customer before any tool touches their data.

A WhatsApp number on file verifies at once. Otherwise the customer proves an order: its
number plus the last 4 characters of the postcode, or the email on the order. Three misses
lock checks for a while and offer a human.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from langgraph.runtime import Runtime

from graph.context import Context
from graph.routes import NEEDS_IDENTITY
from graph.services import services_for
from graph.state import State, Verification, move
from nodes import prompts
from nodes.checks import EMAIL, order_refs
from nodes.common import say, turn_text
from tools.shop import ShopBackend


def _normal(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _secrets(text: str) -> set[str]:
    """What the customer offered as proof: emails, and postcode-like 4-character tokens."""
    emails = {e.lower() for e in EMAIL.findall(text)}
    tokens = {_normal(t) for t in re.findall(r"\b[A-Za-z0-9]{4}\b", text)
              if re.search(r"\d", t) and re.search(r"[A-Za-z]", t)}
    tokens |= {_normal(m) for m in re.findall(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", text, re.I)}
    return emails | tokens


async def check_claim(shop: ShopBackend, text: str) -> str | None:
    """The customer id an order claim proves, or None."""
    offered = _secrets(text)
    for ref in order_refs(text):
        order = await shop.order_for_verification(ref)
        if not order:
            continue
        postcode = _normal(order["postcode"])
        if {order["email"].lower(), postcode[-4:], postcode} & offered:
            return order["customer_id"]
    return None


async def authenticate(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    services = await services_for(context)
    settings, shop, now = services.settings, services.shop, context.clock()
    verification = Verification(**state.verification)
    if verification["status"] == "verified" and state.customer:
        return {}

    def verified(customer: dict, method: str) -> dict:
        return {"customer": customer, **move(state.status, "authed", now.isoformat()),
                "verification": Verification(status="verified", method=method, attempts=0,
                                             locked_until=None)}

    on_file = await shop.customer_by_phone(context.phone) if context.phone else None
    if on_file:
        return verified(on_file, "phone_on_file")
    if state.intent not in NEEDS_IDENTITY:
        return {}  # a policy question needs no proof of identity

    locked_until = verification["locked_until"]
    if locked_until and datetime.fromisoformat(locked_until) > now:
        minutes = max(1, int((datetime.fromisoformat(locked_until) - now).total_seconds() // 60))
        return say(prompts.VERIFY_LOCKED.format(minutes=minutes))
    if locked_until:  # lockout served: a fresh set of attempts
        verification.update(status="unverified", attempts=0, locked_until=None)

    raw = "\n".join(context.inbound) or turn_text(state.messages)
    claimed = bool(order_refs(raw)) and bool(_secrets(raw))
    customer_id = await check_claim(shop, raw) if claimed else None
    if customer_id:
        customer = await shop.customer_by_id(customer_id)
        return {**verified(customer, "order_claim"), **say(prompts.VERIFY_OK.format(
            name=customer["name"].split()[0]))}
    if verification["status"] != "challenged" or not claimed:
        verification["status"] = "challenged"
        return {"verification": verification, **say(prompts.VERIFY_ASK)}

    verification["attempts"] += 1
    left = settings.max_verification_attempts - verification["attempts"]
    if left > 0:
        return {"verification": verification, **say(prompts.VERIFY_RETRY.format(left=left))}
    verification.update(status="locked",
                        locked_until=(now + timedelta(minutes=settings.lockout_minutes)).isoformat())
    return {"verification": verification, "flags": [*state.flags, "verification_lockout"],
            **say(prompts.VERIFY_LOCKED.format(minutes=settings.lockout_minutes))}
