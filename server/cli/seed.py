"""`switchboard seed`: the demo store's customers, orders and tickets, reset to their seed rows."""

from __future__ import annotations

import asyncio

from rich.console import Console

from server.cli.chat import quiet

console = Console()


def seed():
    """Create the demo store (customers, orders, tickets), resetting its rows."""
    quiet()

    async def run() -> dict:
        from graph.base.settings import get_settings
        from server.database import open_pool, setup_lock
        from server.migrations import migrate_pool
        from tools.seed import seed_demo_store
        from tools.shop import PostgresShop

        pool = await open_pool(get_settings())
        try:
            async with setup_lock(pool):
                await migrate_pool(pool)
            return await seed_demo_store(PostgresShop(pool))
        finally:
            await pool.close()

    counts = asyncio.run(run())
    console.print(f"Seeded demo store: {counts['customers']} customers, {counts['orders']} orders.")
