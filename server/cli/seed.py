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
        from server.composition import open_database
        from tools.seed import seed_demo_store

        async with open_database(get_settings()) as database:
            return await seed_demo_store(database.shop)

    counts = asyncio.run(run())
    console.print(f"Seeded demo store: {counts['customers']} customers, {counts['orders']} orders.")
