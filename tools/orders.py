"""Order status tool."""

from __future__ import annotations

from graph.base import pii
from graph.base.tool_results import CHECK_THE_NUMBER, ORDER_STATUSES, refusal
from tools.identity import SupportRuntime, customer_of, shop_services, verified_only
from tools.shop import Order

STATUS_TEXT = ORDER_STATUSES  # kept with the result formats, which the offline brain reads


def describe_order(order: Order) -> str:
    """One customer-ready sentence about an order."""
    text = f"Order {order['id']} ({', '.join(order['items'])}) {STATUS_TEXT.get(order['status'], order['status'])}"
    if order.get("eta") and order["status"] not in ("delivered", "cancelled"):
        text += f", expected {order['eta']}"
    if order.get("carrier") and order["status"] in ("dispatched", "out_for_delivery"):
        text += f" with {order['carrier']}"
    text += "."
    if order.get("tracking_url") and order["status"] in ("dispatched", "out_for_delivery"):
        text += f" Track it here: {order['tracking_url']}"
    return text


@verified_only
async def order_status(order_id: str, runtime: SupportRuntime) -> str:
    """Get the status, expected delivery date and tracking link of one of the customer's orders.

    Args:
        order_id: The order number, like HP-10002.
    """
    customer = customer_of(runtime)
    services = await shop_services(runtime)
    refs = pii.order_refs(order_id)
    order = await services.shop.order(refs[0], customer["id"]) if len(refs) == 1 else None
    if order is None:
        # Same answer whether the order is someone else's or does not exist: no enumeration.
        # The argument is the model's (so possibly the customer's) text: only a well-formed
        # order number is repeated.
        named = f"order {refs[0]}" if len(refs) == 1 else "order with that number"
        return refusal(f"no {named} on this customer's account.", CHECK_THE_NUMBER)
    return describe_order(order)
