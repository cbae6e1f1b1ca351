"""In-memory stand-ins for the shop and the knowledge base, for unit tests that run tools or the
whole graph with no Postgres or Chroma behind them.

`InMemoryShop` keeps `ShopBackend`'s contract as `tools.shop.PostgresShop` does (ownership
checked on every read, ids matched case-insensitively, one ticket per idempotency key); the
integration tests hold the real store to it.
"""

from __future__ import annotations

import copy
from typing import Any

from langchain_core.language_models import BaseChatModel

from graph.base.settings import Settings
from graph.services import Services
from nodes.brain import OfflineBrain
from tools.shop import Order, Ticket

CUSTOMERS = [
    {"id": "C-1", "name": "Amelia Hart", "phone": "447700900101", "email": "amelia@example.com",
     "postcode": "SW1A 1AA", "tier": "retail"},
    {"id": "C-2", "name": "Ravi Patel", "phone": "447700900102", "email": "ravi@example.com",
     "postcode": "M4 1HN", "tier": "vip"},
]

ORDERS: list[Order] = [
    Order(id="HP-10001", customer_id="C-1", status="delivered", placed_at="2026-11-01",
          eta="2026-11-04", carrier="DPD", tracking_url=None, total_gbp=89.5,
          items=["Linen duvet cover"]),
    Order(id="HP-10002", customer_id="C-1", status="dispatched", placed_at="2026-11-20",
          eta="2026-11-23", carrier="DPD", tracking_url="https://track.harborandpine.example/HP-10002",
          total_gbp=42.0, items=["Stoneware mug set"]),
    Order(id="HP-10003", customer_id="C-2", status="processing", placed_at="2026-11-21",
          eta="2026-11-25", carrier=None, tracking_url=None, total_gbp=1249.0,
          items=["Oak dining table"]),
]

PASSAGES = [
    {"id": "returns-1", "title": "Returns", "section": "Time limits",
     "url": "https://help.harborandpine.example/returns#time-limits",
     "text": "You have 30 days from delivery to return an item for a full refund.", "score": 0.9},
    {"id": "delivery-1", "title": "Delivery", "section": "Tracking",
     "url": "https://help.harborandpine.example/delivery#tracking",
     "text": "Every dispatched order has a tracking link.", "score": 0.8},
]


def _public(customer: dict[str, Any]) -> dict[str, Any]:
    return {k: customer[k] for k in ("id", "name", "phone", "email", "tier")}


class InMemoryShop:
    """A `ShopBackend` on Python lists; every call is recorded in `calls`."""

    def __init__(self) -> None:
        self.customers = copy.deepcopy(CUSTOMERS)
        self.orders: list[Order] = copy.deepcopy(ORDERS)
        self.ticket_rows: list[Ticket] = []
        self.keys: dict[str, str] = {}
        self.calls: list[tuple[str, tuple]] = []

    async def customer_by_phone(self, phone: str) -> dict[str, Any] | None:
        self.calls.append(("customer_by_phone", (phone,)))
        return next((_public(c) for c in self.customers if c["phone"] == phone), None)

    async def customer_by_id(self, customer_id: str) -> dict[str, Any] | None:
        self.calls.append(("customer_by_id", (customer_id,)))
        return next((_public(c) for c in self.customers if c["id"] == customer_id), None)

    async def order_for_verification(self, order_id: str) -> dict[str, Any] | None:
        self.calls.append(("order_for_verification", (order_id,)))
        for order in self.orders:
            if order["id"] == order_id.upper():
                owner = next(c for c in self.customers if c["id"] == order["customer_id"])
                return {"id": order["id"], "customer_id": owner["id"],
                        "postcode": owner["postcode"], "email": owner["email"]}
        return None

    async def order(self, order_id: str, customer_id: str) -> Order | None:
        self.calls.append(("order", (order_id, customer_id)))
        return next((copy.deepcopy(o) for o in self.orders
                     if o["id"] == order_id.upper() and o["customer_id"] == customer_id), None)

    async def recent_orders(self, customer_id: str, limit: int = 5) -> list[Order]:
        self.calls.append(("recent_orders", (customer_id, limit)))
        mine = [o for o in self.orders if o["customer_id"] == customer_id]
        return copy.deepcopy(sorted(mine, key=lambda o: o["placed_at"], reverse=True)[:limit])

    async def create_ticket(self, customer_id: str, subject: str, details: str,
                            priority: str, idempotency_key: str | None = None) -> Ticket:
        self.calls.append(("create_ticket", (customer_id, subject, details, priority,
                                             idempotency_key)))
        if idempotency_key in self.keys:
            return copy.deepcopy(self._ticket(self.keys[idempotency_key]))
        ticket = Ticket(id=f"T-{5001 + len(self.ticket_rows)}", customer_id=customer_id,
                        subject=subject, status="open", priority=priority, notes=[details])
        self.ticket_rows.append(ticket)
        if idempotency_key:
            self.keys[idempotency_key] = ticket["id"]
        return copy.deepcopy(ticket)

    async def update_ticket(self, ticket_id: str, customer_id: str, note: str,
                            status: str | None) -> Ticket | None:
        self.calls.append(("update_ticket", (ticket_id, customer_id, note, status)))
        ticket = self._ticket(ticket_id.upper())
        if ticket is None or ticket["customer_id"] != customer_id:
            return None
        ticket["notes"].append(note)
        ticket["status"] = status or ticket["status"]
        return copy.deepcopy(ticket)

    async def tickets(self, customer_id: str) -> list[Ticket]:
        self.calls.append(("tickets", (customer_id,)))
        return copy.deepcopy([t for t in reversed(self.ticket_rows)
                              if t["customer_id"] == customer_id])

    def _ticket(self, ticket_id: str) -> Ticket | None:
        return next((t for t in self.ticket_rows if t["id"] == ticket_id), None)


class InMemoryKnowledge:
    """Answers every search with the passages whose words overlap the query, best first."""

    def __init__(self, passages: list[dict] | None = None) -> None:
        self.passages = copy.deepcopy(PASSAGES if passages is None else passages)
        self.queries: list[str] = []

    async def search(self, query: str, k: int = 4, where: dict[str, str] | None = None) -> list[dict]:
        self.queries.append(query)
        words = {w for w in query.lower().split() if len(w) > 3}  # no "a", "to", "the"
        hits = [p for p in self.passages if words & set(f"{p['title']} {p['text']}".lower().split())]
        return copy.deepcopy(hits[:k])


def offline_services(shop: InMemoryShop | None = None, knowledge: InMemoryKnowledge | None = None,
                     agent_model: BaseChatModel | None = None, **settings: Any) -> Services:
    """Services with the offline brain (or `agent_model` as the agent), the in-memory shop and
    knowledge, and neither desk nor verification ledger (order claims are refused, as when
    no ledger is configured)."""
    brain = OfflineBrain()
    return Services(settings=Settings(_env_file=None, **settings), router_model=brain,
                    agent_model=agent_model or brain, fallback_model=brain,
                    shop=shop or InMemoryShop(), knowledge=knowledge or InMemoryKnowledge())
