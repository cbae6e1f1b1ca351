"""Searching the whole database for a customer's identifiers: every text, varchar, json(b),
array and bytea column of every table (LangGraph's checkpoint tables included, bytea searched
as the bytes it holds), so an erasure that misses a place cannot pass."""

from __future__ import annotations

import json
from typing import Any

from graph.base.sql import Pool

SEARCHED_TYPES = ("text", "character varying", "character", "json", "jsonb", "bytea", "ARRAY")
BUSINESS_TABLES = ("shop_customers", "shop_orders", "shop_tickets")
"""The demo store: the business's own system, which erasure leaves alone."""


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str).encode()
    return str(value).encode()


async def columns(pool: Pool) -> list[tuple[str, str]]:
    """(table, column) of every searched column in the public schema."""
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " JOIN information_schema.tables USING (table_schema, table_name)"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND data_type = ANY(%s)"
            " ORDER BY table_name, column_name", (list(SEARCHED_TYPES),))).fetchall()
    return [(row["table_name"], row["column_name"]) for row in rows]


async def where_found(pool: Pool, needles: list[str],
                      skip: tuple[str, ...] = BUSINESS_TABLES) -> dict[str, set[str]]:
    """needle -> {"table.column", ...} wherever it occurs."""
    found: dict[str, set[str]] = {}
    encoded = [(needle, needle.encode()) for needle in needles]
    async with pool.connection() as conn:
        for table, column in await columns(pool):
            if table in skip:
                continue
            rows = await (await conn.execute(
                f'SELECT "{column}" AS v FROM "{table}" WHERE "{column}" IS NOT NULL')).fetchall()
            for row in rows:
                data = _as_bytes(row["v"])
                for needle, raw in encoded:
                    if raw in data:
                        found.setdefault(needle, set()).add(f"{table}.{column}")
    return found


async def snapshot(pool: Pool, tables: tuple[str, ...]) -> dict[str, list[dict]]:
    """Every row of the tables, in a stable order."""
    out = {}
    async with pool.connection() as conn:
        for table in tables:
            rows = await (await conn.execute(f'SELECT * FROM "{table}"')).fetchall()
            out[table] = sorted((dict(r) for r in rows), key=lambda r: json.dumps(r, default=str))
    return out
