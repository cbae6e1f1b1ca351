"""Customer profile tool."""

from __future__ import annotations

from graph.base import tool_results as formats
from tools.identity import SupportRuntime, customer_of, shop_services, verified_only
from tools.orders import describe_order


@verified_only
async def customer_profile(runtime: SupportRuntime) -> str:
    """Get the customer's name, tier, recent orders and open tickets.

    Use it when the customer asks about "my order" without a number, or you need context.
    The result is for you: answer from it, never send it as it is.
    """
    customer = customer_of(runtime)
    shop = (await shop_services(runtime)).shop
    orders = await shop.recent_orders(customer["id"], limit=3)
    tickets = [t for t in await shop.tickets(customer["id"]) if t["status"] != "resolved"]
    lines = [formats.PROFILE_CUSTOMER.format(name=customer["name"], tier=customer["tier"])]
    lines += ([formats.PROFILE_ORDERS] + [formats.PROFILE_ORDER.format(order=describe_order(o)) for o in orders]
              if orders else [formats.PROFILE_NO_ORDERS])
    # Ticket subjects and earlier messages are customer text: a reply built from this result
    # must never carry them back verbatim, so only our own fields are given.
    lines += [formats.PROFILE_TICKET.format(id=t["id"], priority=t["priority"], status=t["status"])
              for t in tickets]
    return "\n".join(lines)
