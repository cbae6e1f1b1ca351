"""`switchboard migrate`: bring the database's schema up to date and say what was applied.
Servers do the same on start; this is for a deploy step that migrates before starting them."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

console = Console()


def migrate() -> None:
    """Apply the database migrations not yet applied (servers also do this when they start)."""

    async def run() -> list[str]:
        from graph.base.settings import get_settings
        from server.composition import open_database

        # Two connections: the setup lock's (as a starting server, one at a time) and the
        # migrating one.
        async with open_database(get_settings(), max_size=2) as database:
            return database.applied

    from server.migrations import MigrationError

    try:
        applied = asyncio.run(run())
    except MigrationError as error:
        Console(stderr=True).print(f"cannot migrate: {error}", markup=False, highlight=False,
                                   soft_wrap=True)
        raise typer.Exit(1) from None
    for name in applied:
        console.print(f"applied {name}", markup=False, highlight=False)
    console.print(f"The schema is up to date ({len(applied)} migration(s) applied now).")
