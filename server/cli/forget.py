"""`switchboard forget PHONE_OR_ID`: erase everything about one customer (the work lives in
server/privacy/forget.py) and print what went. The demo shop is the business's own system
and is left alone."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)


def forget(identifier: str = typer.Argument(..., metavar="PHONE_OR_ID",
                                            help="A phone number (any format), bsuid:<id> or a"
                                                 " conversation ref (c_...)."),
           by: str = typer.Option(None, "--by", help="Who asked (recorded on the audit"
                                                     " tombstone as agent:<NAME>)."),
           yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation.")) -> None:
    """Erase a customer: inbox, outbox, turns, checkpoints, desk records, media, verification
    attempts and audit events (one tombstone stays: that an erasure happened, when, by whom)."""
    from server.privacy.identify import NotAnIdentifier, conversation_key

    try:
        conversation_key(identifier)
    except NotAnIdentifier as error:
        err.print(f"cannot forget: {error}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    if by is not None and not (by.strip() and by.isprintable() and len(by) <= 64):
        err.print("cannot forget: --by must be a short name", markup=False, highlight=False)
        raise typer.Exit(2)
    if not yes and not typer.confirm("Erase everything stored about this customer?"):
        err.print("nothing erased", markup=False, highlight=False)
        raise typer.Exit(1)

    async def run():
        from graph.base.settings import get_settings
        from server.composition import open_privacy

        async with open_privacy(get_settings()) as privacy:
            return await privacy.eraser.forget(identifier, by=f"agent:{by.strip()}" if by else "cli")

    from server.database import DatabaseUnreachable

    try:
        forgotten = asyncio.run(run())
    except DatabaseUnreachable:
        raise  # one line from the CLI's entry point
    except Exception as error:  # the transaction rolled back: nothing is half-erased
        err.print(f"cannot forget: {type(error).__name__} while erasing; nothing was erased,"
                  " run it again", markup=False, highlight=False)
        raise typer.Exit(1) from None
    if forgotten is None:
        err.print("nothing stored about that customer: nothing to forget", markup=False,
                  highlight=False)
        raise typer.Exit(2)
    removed = ", ".join(f"{place} {count}" for place, count in forgotten.removed.items() if count)
    console.print(f"Forgot {forgotten.ref}: {removed}; {forgotten.redis_keys} Redis key(s)."
                  " The audit trail keeps one erasure tombstone.", markup=False, highlight=False)
