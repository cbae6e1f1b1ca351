"""Customer profile tool."""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from tools.identity import NOT_VERIFIED, SupportRuntime, _get, shop_services, verified_customer
from tools.orders import describe_order


async def customer_profile(runtime: SupportRuntime) -> str:
    """Get the customer's name, tier, recent orders, open tickets and recent chat messages.

    Use it when the customer asks about "my order" without a number, or you need context.
    """
    customer = verified_customer(runtime)
    if customer is None:
        return NOT_VERIFIED
    shop = (await shop_services(runtime)).shop
    orders = await shop.recent_orders(customer["id"], limit=3)
    tickets = [t for t in await shop.tickets(customer["id"]) if t["status"] != "resolved"]
    said = [m.text for m in _get(runtime.state, "messages") or [] if isinstance(m, HumanMessage)]
    lines = [f"{customer['name']} ({customer['tier']} customer)."]
    lines += ["Recent orders:"] + [f"- {describe_order(o)}" for o in orders] if orders else ["No orders yet."]
    lines += [f"Open ticket {t['id']}: {t['subject']}" for t in tickets]
    if said[-4:-1]:
        lines.append("Earlier in this chat: " + " | ".join(said[-4:-1]))
    return "\n".join(lines)
