"""Order status tool."""

from __future__ import annotations

from tools.identity import NOT_VERIFIED, SupportRuntime, shop_services, verified_customer

STATUS_TEXT = {
    "processing": "is being prepared in our warehouse",
    "dispatched": "is on its way",
    "out_for_delivery": "is out for delivery today",
    "delivered": "was delivered",
    "awaiting_collection": "is ready to collect in store",
    "cancelled": "was cancelled",
}


def describe_order(order: dict) -> str:
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


async def order_status(order_id: str, runtime: SupportRuntime) -> str:
    """Get the status, expected delivery date and tracking link of one of the customer's orders.

    Args:
        order_id: The order number, like HP-10002.
    """
    customer = verified_customer(runtime)
    if customer is None:
        return NOT_VERIFIED
    services = await shop_services(runtime)
    order = await services.shop.order(order_id.strip(), customer["id"])
    if order is None:
        # Same answer whether the order is someone else's or does not exist: no enumeration.
        return (f"Refused: no order {order_id} on this customer's account. Ask them to check "
                "the number; never discuss orders on other accounts.")
    return describe_order(order)
