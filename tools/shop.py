"""The shop backend the tools read and change: an interface, and the demo store in Postgres.

A real shop plugs in by implementing `ShopBackend`; the tools only ever call these methods,
always with the verified customer's id, so ownership checks live in one place.
"""

from __future__ import annotations

from typing import Any, Protocol, TypedDict, TypeVar

from psycopg.rows import class_row

from graph.base.sql import Pool


class Order(TypedDict):
    """An order as tools see it."""

    id: str
    customer_id: str
    status: str
    placed_at: str
    eta: str | None
    carrier: str | None
    tracking_url: str | None
    total_gbp: float
    items: list[str]


class Ticket(TypedDict):
    """A support ticket as tools see it."""

    id: str
    customer_id: str
    subject: str
    status: str
    priority: str
    notes: list[str]


class ShopBackend(Protocol):
    """What Switchboard needs from a shop. Every read of customer data names the customer."""

    async def customer_by_phone(self, phone: str) -> dict[str, Any] | None: ...
    async def customer_by_id(self, customer_id: str) -> dict[str, Any] | None: ...
    async def order_for_verification(self, order_id: str) -> dict[str, Any] | None:
        """The order with its owner's postcode and email, for the identity check only."""
    async def order(self, order_id: str, customer_id: str) -> Order | None:
        """The order if it belongs to customer_id, else None (no hint that it exists)."""
    async def recent_orders(self, customer_id: str, limit: int = 5) -> list[Order]: ...
    async def create_ticket(self, customer_id: str, subject: str, details: str,
                            priority: str, idempotency_key: str | None = None) -> Ticket:
        """Open a ticket; a second call with the same idempotency key returns the first ticket
        (a turn run again after a crash must not open it twice)."""
    async def update_ticket(self, ticket_id: str, customer_id: str, note: str,
                            status: str | None) -> Ticket | None: ...
    async def tickets(self, customer_id: str) -> list[Ticket]: ...


R = TypeVar("R")
"""The shape a query's rows are built as."""

_ORDER_COLUMNS = """id, customer_id, status, placed_at::text, eta::text, carrier, tracking_url,
    total_gbp::float AS total_gbp, items"""


class PostgresShop:
    """The demo store, in the same PostgreSQL as the checkpoints."""

    def __init__(self, pool: Pool):
        self.pool = pool

    async def _one(self, row: type[R], sql: str, *args: Any) -> R | None:
        """The first row of `sql`, built as `row` (a TypedDict, or dict)."""
        async with self.pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(row))
            return await (await cursor.execute(sql, args)).fetchone()

    async def _all(self, row: type[R], sql: str, *args: Any) -> list[R]:
        """Every row of `sql`, each built as `row` (a TypedDict, or dict)."""
        async with self.pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(row))
            return await (await cursor.execute(sql, args)).fetchall()

    async def customer_by_phone(self, phone: str) -> dict[str, Any] | None:
        return await self._one(
            dict, "SELECT id, name, phone, email, tier FROM shop_customers WHERE phone = %s", phone)

    async def customer_by_id(self, customer_id: str) -> dict[str, Any] | None:
        return await self._one(
            dict, "SELECT id, name, phone, email, tier FROM shop_customers WHERE id = %s",
            customer_id)

    async def order_for_verification(self, order_id: str) -> dict[str, Any] | None:
        return await self._one(
            dict, "SELECT o.id, o.customer_id, c.postcode, c.email FROM shop_orders o"
            " JOIN shop_customers c ON c.id = o.customer_id WHERE o.id = %s", order_id.upper())

    async def order(self, order_id: str, customer_id: str) -> Order | None:
        return await self._one(
            Order, f"SELECT {_ORDER_COLUMNS} FROM shop_orders WHERE id = %s AND customer_id = %s",
            order_id.upper(), customer_id)

    async def recent_orders(self, customer_id: str, limit: int = 5) -> list[Order]:
        return await self._all(
            Order, f"SELECT {_ORDER_COLUMNS} FROM shop_orders WHERE customer_id = %s"
            " ORDER BY placed_at DESC LIMIT %s", customer_id, limit)

    async def create_ticket(self, customer_id: str, subject: str, details: str,
                            priority: str, idempotency_key: str | None = None) -> Ticket:
        ticket = await self._one(
            Ticket, "INSERT INTO shop_tickets (customer_id, subject, priority, notes, idempotency_key)"
            " VALUES (%s, %s, %s, ARRAY[%s], %s) ON CONFLICT (idempotency_key) DO UPDATE"
            " SET idempotency_key = excluded.idempotency_key RETURNING id, customer_id, subject,"
            " status, priority, notes", customer_id, subject, priority, details, idempotency_key)
        if ticket is None:  # the upsert returns the new or the existing row
            raise RuntimeError("creating a ticket returned no row")
        return ticket

    async def update_ticket(self, ticket_id: str, customer_id: str, note: str,
                            status: str | None) -> Ticket | None:
        return await self._one(
            Ticket, "UPDATE shop_tickets SET notes = notes || ARRAY[%s], status = coalesce(%s, status)"
            " WHERE id = %s AND customer_id = %s RETURNING id, customer_id, subject, status,"
            " priority, notes", note, status, ticket_id.upper(), customer_id)

    async def tickets(self, customer_id: str) -> list[Ticket]:
        return await self._all(
            Ticket, "SELECT id, customer_id, subject, status, priority, notes FROM shop_tickets"
            " WHERE customer_id = %s ORDER BY created_at DESC", customer_id)
