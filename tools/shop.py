"""The shop backend the tools read and change: an interface, and the demo store in Postgres.

A real shop plugs in by implementing `ShopBackend`; the tools only ever call these methods,
always with the verified customer's id, so ownership checks live in one place.
"""

from __future__ import annotations

from typing import Any, Protocol, TypedDict

from psycopg_pool import AsyncConnectionPool

from server.database import apply_schema


class Order(TypedDict):
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


SCHEMA = """
CREATE TABLE IF NOT EXISTS shop_customers (
    id text PRIMARY KEY, name text NOT NULL, phone text UNIQUE, email text NOT NULL,
    postcode text NOT NULL, tier text NOT NULL DEFAULT 'retail');
CREATE TABLE IF NOT EXISTS shop_orders (
    id text PRIMARY KEY, customer_id text NOT NULL REFERENCES shop_customers(id),
    status text NOT NULL, placed_at timestamptz NOT NULL, eta date, carrier text,
    tracking_url text, total_gbp numeric(10,2) NOT NULL, items text[] NOT NULL);
CREATE INDEX IF NOT EXISTS shop_orders_customer ON shop_orders (customer_id, placed_at DESC);
CREATE SEQUENCE IF NOT EXISTS shop_ticket_seq START 5001;
CREATE TABLE IF NOT EXISTS shop_tickets (
    id text PRIMARY KEY DEFAULT 'T-' || nextval('shop_ticket_seq'),
    customer_id text NOT NULL REFERENCES shop_customers(id), subject text NOT NULL,
    status text NOT NULL DEFAULT 'open', priority text NOT NULL DEFAULT 'normal',
    notes text[] NOT NULL DEFAULT '{}', created_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE shop_tickets ADD COLUMN IF NOT EXISTS idempotency_key text UNIQUE;
"""

_ORDER_COLUMNS = """id, customer_id, status, placed_at::text, eta::text, carrier, tracking_url,
    total_gbp::float AS total_gbp, items"""


class PostgresShop:
    """The demo store, in the same PostgreSQL as the checkpoints."""

    def __init__(self, pool: AsyncConnectionPool):
        self.pool = pool

    async def setup(self) -> None:
        async with self.pool.connection() as conn:
            await apply_schema(conn, "shop", SCHEMA)

    async def _one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        async with self.pool.connection() as conn:
            return await (await conn.execute(sql, args)).fetchone()

    async def _all(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            return await (await conn.execute(sql, args)).fetchall()

    async def customer_by_phone(self, phone: str) -> dict[str, Any] | None:
        return await self._one(
            "SELECT id, name, phone, email, tier FROM shop_customers WHERE phone = %s", phone)

    async def customer_by_id(self, customer_id: str) -> dict[str, Any] | None:
        return await self._one(
            "SELECT id, name, phone, email, tier FROM shop_customers WHERE id = %s", customer_id)

    async def order_for_verification(self, order_id: str) -> dict[str, Any] | None:
        return await self._one(
            "SELECT o.id, o.customer_id, c.postcode, c.email FROM shop_orders o"
            " JOIN shop_customers c ON c.id = o.customer_id WHERE o.id = %s", order_id.upper())

    async def order(self, order_id: str, customer_id: str) -> Order | None:
        return await self._one(  # type: ignore[return-value]
            f"SELECT {_ORDER_COLUMNS} FROM shop_orders WHERE id = %s AND customer_id = %s",
            order_id.upper(), customer_id)

    async def recent_orders(self, customer_id: str, limit: int = 5) -> list[Order]:
        return await self._all(  # type: ignore[return-value]
            f"SELECT {_ORDER_COLUMNS} FROM shop_orders WHERE customer_id = %s"
            " ORDER BY placed_at DESC LIMIT %s", customer_id, limit)

    async def create_ticket(self, customer_id: str, subject: str, details: str,
                            priority: str, idempotency_key: str | None = None) -> Ticket:
        return await self._one(  # type: ignore[return-value]
            "INSERT INTO shop_tickets (customer_id, subject, priority, notes, idempotency_key)"
            " VALUES (%s, %s, %s, ARRAY[%s], %s) ON CONFLICT (idempotency_key) DO UPDATE"
            " SET idempotency_key = excluded.idempotency_key RETURNING id, customer_id, subject,"
            " status, priority, notes", customer_id, subject, priority, details, idempotency_key)

    async def update_ticket(self, ticket_id: str, customer_id: str, note: str,
                            status: str | None) -> Ticket | None:
        return await self._one(  # type: ignore[return-value]
            "UPDATE shop_tickets SET notes = notes || ARRAY[%s], status = coalesce(%s, status)"
            " WHERE id = %s AND customer_id = %s RETURNING id, customer_id, subject, status,"
            " priority, notes", note, status, ticket_id.upper(), customer_id)

    async def tickets(self, customer_id: str) -> list[Ticket]:
        return await self._all(  # type: ignore[return-value]
            "SELECT id, customer_id, subject, status, priority, notes FROM shop_tickets"
            " WHERE customer_id = %s ORDER BY created_at DESC", customer_id)
