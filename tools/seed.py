"""Demo data for the Harbor & Pine store: customers, orders and one open ticket."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from graph.base.sql import required
from tools.shop import PostgresShop

# id, name, WhatsApp number (None: not on file), email, postcode, tier
CUSTOMERS = [
    ("C-1001", "Amelia Hart", "447700900101", "amelia.hart@example.com", "SW1A 1AA", "retail"),
    ("C-1002", "Ravi Patel", "447700900102", "ravi.patel@example.com", "M4 1HN", "vip"),
    ("C-1003", "Sophie Martin", "447700900103", "sophie@martin-interiors.example", "BS1 5TY", "trade"),
    ("C-1004", "Liam O'Connor", None, "liam.oconnor@example.com", "EH4 1JS", "retail"),
    ("C-1005", "Chloe Dubois", "447700900105", "chloe.dubois@example.com", "E2 8AA", "retail"),
]

# id, customer, status, days ago placed, ETA in days (None: no ETA), carrier, total, items
ORDERS = [
    ("HP-10001", "C-1001", "delivered", 20, -14, "DPD", 89.50, ["Linen duvet cover, king"]),
    ("HP-10002", "C-1001", "dispatched", 2, 1, "DPD", 42.00, ["Stoneware mug set (4)"]),
    ("HP-10003", "C-1002", "processing", 0, 4, None, 1249.00, ["Oak dining table, 6-seat"]),
    ("HP-10004", "C-1002", "out_for_delivery", 3, 0, "Royal Mail", 18.95, ["Beeswax candle trio"]),
    ("HP-10005", "C-1003", "delivered", 40, -33, "Harbor Freight Crew", 2310.00,
     ["Velvet sofa, 3-seat", "Brass floor lamp"]),
    ("HP-10006", "C-1003", "dispatched", 5, 6, "Harbor Freight Crew", 640.00, ["Rattan armchair"]),
    ("HP-10007", "C-1004", "dispatched", 1, 2, "DPD", 64.00, ["Ceramic table lamp"]),
    ("HP-10008", "C-1004", "cancelled", 10, None, None, 35.00, ["Cotton throw"]),
    ("HP-10009", "C-1005", "awaiting_collection", 1, 0, None, 27.50,
     ["Enamel casserole dish"]),
    ("HP-10010", "C-1005", "processing", 0, 3, None, 129.00, ["Wool rug, 160x230"]),
]


def _tracking_url(order_id: str, carrier: str | None) -> str | None:
    return f"https://track.harborandpine.example/{order_id}" if carrier else None


async def seed_demo_store(shop: PostgresShop, today: date | None = None) -> dict[str, int]:
    """(Re)write the demo rows, in tables the migrations made (server/migrations); safe to
    run any number of times."""
    today = today or datetime.now(UTC).date()
    async with shop.pool.connection() as conn, conn.transaction():
        for row in CUSTOMERS:
            await conn.execute(
                "INSERT INTO shop_customers (id, name, phone, email, postcode, tier)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                " name = excluded.name, phone = excluded.phone, email = excluded.email,"
                " postcode = excluded.postcode, tier = excluded.tier", row)
        for oid, cid, status, ago, eta, carrier, total, items in ORDERS:
            placed = datetime.combine(today - timedelta(days=ago), datetime.min.time(), UTC)
            eta_date = today + timedelta(days=eta) if eta is not None else None
            await conn.execute(
                "INSERT INTO shop_orders (id, customer_id, status, placed_at, eta, carrier,"
                " tracking_url, total_gbp, items) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id,"
                " status = excluded.status, placed_at = excluded.placed_at, eta = excluded.eta,"
                " carrier = excluded.carrier, tracking_url = excluded.tracking_url,"
                " total_gbp = excluded.total_gbp, items = excluded.items",
                (oid, cid, status, placed, eta_date, carrier, _tracking_url(oid, carrier),
                 total, items))
    return {"customers": len(CUSTOMERS), "orders": len(ORDERS)}


async def seed_if_empty(shop: PostgresShop) -> bool:
    """Seed on first run; True when it did."""
    async with shop.pool.connection() as conn:
        row = required(await (await conn.execute("SELECT count(*) AS n FROM shop_customers")).fetchone())
    if row["n"]:
        return False
    await seed_demo_store(shop)
    return True
