"""`switchboard doctor`: one table row per configured dependency, checked with a real call
by server/doctor.py; exit code 1 when anything configured fails."""

from __future__ import annotations

import asyncio
import logging

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from server.doctor import FAILED, OK, SKIPPED, all_rows


def doctor():
    """Check every configured dependency with a real call (5 s each) and show what is wrong.
    Exit code 1 when anything configured fails."""
    from server.cli.serve import load_settings
    from server.lifecycle import stopping_embedded_services
    from server.logs import configure_logging

    configure_logging()
    logging.getLogger().setLevel(logging.WARNING)  # the table is the output
    settings = load_settings()
    with stopping_embedded_services():
        rows = asyncio.run(all_rows(settings))
    table = Table(title="Switchboard doctor")
    for column in ("dependency", "where", "status", "detail"):
        table.add_column(column)
    colour = {OK: "green", FAILED: "bold red", SKIPPED: "dim"}
    for row in rows:
        table.add_row(row.dependency, Text(row.where), Text(row.status, style=colour[row.status]),
                      Text(row.detail))
    Console().print(table)
    failed = [row.dependency for row in rows if row.status == FAILED]
    if failed:
        typer.echo(f"{len(failed)} failed: {', '.join(failed)}", err=True)
        raise typer.Exit(1)
