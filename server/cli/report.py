"""`switchboard report`: the service report of a time window as a table, JSON or CSV
(figures: server/reporting/, docs/reporting.md)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()


class Format(StrEnum):
    """How the report is printed (CSV columns: server/reporting/formats.py)."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def report(since: str = typer.Option("7d", "--since",
                                     help="Start: 7d, 24h, 30m, 2w (before now) or an ISO date."),
           until: str = typer.Option(None, "--until", help="End, the same way (default: now)."),
           fmt: Annotated[Format, typer.Option("--format", help="table, json or csv.")] = Format.TABLE,
           ) -> None:
    """Service figures of a time window: conversations, first response and resolution times,
    containment, handoffs, SLA, CSAT and model cost."""
    from server.reporting import formats, window

    try:
        start, end = window.window(since, until)
    except window.BadWindow as error:
        Console(stderr=True).print(f"bad window: {error}", markup=False, highlight=False,
                                   soft_wrap=True)
        raise typer.Exit(2) from None
    figures = asyncio.run(_read(start, end))
    if fmt is Format.JSON:
        print(formats.as_json(figures))
    elif fmt is Format.CSV:
        print(formats.as_csv(figures), end="")
    else:
        _tables(figures)


async def _read(since: datetime, until: datetime) -> dict[str, Any]:
    from graph.base.settings import get_settings
    from server.composition import open_database
    from server.reporting.report import service_report

    async with open_database(get_settings(), max_size=2) as database, \
            database.pool.connection() as conn:
        return await service_report(conn, since, until)


def _tables(figures: dict[str, Any]) -> None:
    from server.reporting import formats

    summary = Table(title=f"Service report {figures['since']} to {figures['until']}")
    summary.add_column("Figure")
    summary.add_column("Value", justify="right")
    for name, value in formats.summary_rows(figures):
        summary.add_row(name, value)
    console.print(summary)
    days = Table(title="Per day (UTC)")
    for _, heading in formats.DAILY_COLUMNS:
        days.add_column(heading, justify="right")
    for row in formats.daily_rows(figures):
        days.add_row(*row)
    console.print(days)
