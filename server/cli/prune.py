"""`switchboard prune [--dry-run]`: apply the retention periods now (workers also do it
daily) and print, per class of data, what was removed, or with --dry-run what would be."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def prune(dry_run: bool = typer.Option(False, "--dry-run",
                                       help="Count what would be removed; change nothing.")) -> None:
    """Remove or blank data older than its retention period (RETENTION__*, docs/retention.md)."""

    async def run():
        from graph.base.settings import get_settings
        from server.composition import open_privacy
        from server.privacy.prune import prune as run_prune

        async with open_privacy(get_settings()) as privacy:
            return await run_prune(privacy.pruning, dry_run=dry_run)

    done = asyncio.run(run())
    table = Table(title="Would remove (dry run)" if dry_run else "Removed")
    for column in ("class", "what", "count"):
        table.add_column(column, justify="right" if column == "count" else "left")
    for pruned in done:
        table.add_row(str(pruned.data_class), pruned.what, str(pruned.count))
    console.print(table)
    totals: dict[str, int] = {}
    for pruned in done:
        totals[pruned.data_class] = totals.get(pruned.data_class, 0) + pruned.count
    summary = ", ".join(f"{name} {count}" for name, count in totals.items()) or "every class kept forever"
    console.print(f"{'Would remove' if dry_run else 'Removed'}: {summary}.", markup=False,
                  highlight=False)
