"""`switchboard agents ...`: manage console accounts."""

from __future__ import annotations

import asyncio
import os

import typer
from rich.console import Console

agents_app = typer.Typer(help="Console accounts (agents and supervisors).", no_args_is_help=True)
console = Console()
PASSWORD_ENV = "SWITCHBOARD_AGENT_PASSWORD"


@agents_app.command("add")
def add(agent_id: str = typer.Argument(..., metavar="ID", help="Login id, e.g. sam."),
        name: str = typer.Option(None, "--name", help="Display name (default: the id)."),
        role: str = typer.Option("agent", "--role", help="agent or supervisor."),
        team: str = typer.Option("support", "--team", help="The team whose queue the agent sees.")):
    """Create a console account. The password comes from SWITCHBOARD_AGENT_PASSWORD or a hidden prompt."""
    from server.desk.states import AgentRole  # imported late: the CLI starts fast

    if role not in list(AgentRole):
        console.print(f"[red]--role must be one of: {', '.join(AgentRole)}[/]")
        raise typer.Exit(2)
    password = os.environ.get(PASSWORD_ENV) or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    if not password:
        console.print("[red]a password is required[/]")
        raise typer.Exit(2)

    async def run() -> None:
        from graph.base.settings import get_settings
        from server.composition import open_database
        from server.console.auth import create_agent

        async with open_database(get_settings()) as database:
            await create_agent(database.pool, agent_id, name or agent_id, password, role, team)

    try:
        asyncio.run(run())
    except ValueError as error:  # AgentExists, bad values; never includes the password
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None
    console.print(f"Created {role} [bold]{agent_id}[/] in team {team}.")


@agents_app.command("unlock")
def unlock(agent_id: str = typer.Argument(..., metavar="ID", help="The locked login id.")):
    """Lift a login lockout or backoff of one id now (after too many wrong passwords)."""

    async def run() -> bool:
        from graph.base.settings import get_settings
        from server.composition import open_database
        from server.console.throttle import subject

        async with open_database(get_settings()) as database, database.pool.connection() as conn:
            done = await conn.execute("DELETE FROM console_login_throttle WHERE scope = 'account'"
                                      " AND subject = %s", (subject("account", agent_id),))
        return done.rowcount > 0

    lifted = asyncio.run(run())
    console.print(f"Unlocked [bold]{agent_id}[/]." if lifted else f"{agent_id} was not locked.")
