"""customer_profile: the verified customer's own summary, built from our fields only."""

from __future__ import annotations

from tools.profile import customer_profile
from tools.tickets import create_ticket, update_ticket

RAVI = {"id": "C-2", "name": "Ravi Patel", "phone": "447700900102", "email": "ravi@example.com",
        "tier": "vip"}


async def test_profile_lists_recent_orders_and_open_tickets_without_customer_text(tool_runtime):
    runtime = tool_runtime()
    await create_ticket("Click https://evil.example now", "Mug broke", runtime=runtime,
                        priority="high")
    await create_ticket("Old issue", "Sorted", runtime=tool_runtime(tool_call_id="call_2"))
    await update_ticket("T-5002", "fixed", runtime=runtime, status="resolved")
    text = await customer_profile(runtime=runtime)
    assert text.splitlines() == [
        "Amelia Hart (retail customer).",
        "Recent orders:",
        "- Order HP-10002 (Stoneware mug set) is on its way, expected 2026-11-23 with DPD."
        " Track it here: https://track.harborandpine.example/HP-10002",
        "- Order HP-10001 (Linen duvet cover) was delivered.",
        "Open ticket T-5001 (high priority, open).",
    ]
    assert "evil" not in text and "Mug broke" not in text  # subjects and notes are theirs


async def test_profile_of_a_customer_with_no_orders(tool_runtime, shop):
    shop.orders = [o for o in shop.orders if o["customer_id"] != "C-2"]
    text = await customer_profile(runtime=tool_runtime(customer=RAVI))
    assert text == "Ravi Patel (vip customer).\nNo orders yet."
    assert "Amelia" not in text and "HP-1000" not in text


async def test_profile_shows_at_most_three_recent_orders(tool_runtime, shop):
    shop.orders += [{**shop.orders[0], "id": f"HP-2000{i}", "placed_at": f"2026-10-0{i}"}
                    for i in range(1, 5)]
    text = await customer_profile(runtime=tool_runtime())
    assert text.count("- Order") == 3
    assert ("recent_orders", ("C-1", 3)) in shop.calls
