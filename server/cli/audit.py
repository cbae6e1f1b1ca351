"""`switchboard audit CONVERSATION`: one conversation's audit trail, oldest first."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()
NOT_FOUND = "no audit events for that conversation"
FORMATS = ("table", "json")

def audit(conversation: str = typer.Argument(..., metavar="CONVERSATION",
                                             help="Its ref (c_...), phone number or BSUID."),
          output: str = typer.Option("table", "--format", help="table, or json for machines.")):
    """Print one conversation's audit trail: time (UTC), turn, actor, kind and what."""
    from server.audit_timeline import conversation_ref  # imported late: the CLI starts fast

    if output not in FORMATS:
        Console(stderr=True).print(f"--format must be one of: {', '.join(FORMATS)}", markup=False)
        raise typer.Exit(2)

    async def read() -> list[dict[str, Any]]:
        from graph.base.settings import get_settings
        from server.audit_timeline import events_of, line
        from server.composition import open_database

        async with open_database(get_settings()) as database, database.pool.connection() as conn:
            return [line(e) for e in await events_of(conn, conversation_ref(conversation))]

    try:
        lines = asyncio.run(read())
    except ValueError as error:
        Console(stderr=True).print(str(error), markup=False, highlight=False)
        raise typer.Exit(2) from None
    if not lines:
        Console(stderr=True).print(NOT_FOUND, markup=False, highlight=False)
        raise typer.Exit(2)
    if output == "json":
        print(json.dumps(lines, default=str, indent=1))
        return
    table = Table(title="Audit trail", show_lines=False)
    for column in ("time (UTC)", "turn", "actor", "kind", "what"):
        table.add_column(column, overflow="fold")
    for item in lines:
        table.add_row(item["at"], "" if item["turn"] is None else str(item["turn"]), item["actor"],
                      item["kind"], item["what"])
    console.print(table)
