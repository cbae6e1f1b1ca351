"""The `switchboard` command line: one module per command (group), registered here.

chat.py `chat` · seed.py `seed` · knowledge.py `ingest`, `eval` · eval_router.py
`eval router` · eval_answers.py `eval answers` · eval_conversations.py `eval conversations` ·
serve.py `serve`, `worker` · simulate.py `simulate` · doctor.py `doctor` · stop.py `stop` ·
migrate.py `migrate` · agents.py `agents` · report.py `report` · prune.py `prune` ·
forget.py `forget` · templates.py `templates list`, `templates check` · audit.py `audit`. The commands' work lives outside this package (server/doctor.py,
server/lifecycle.py, server/migrations/, ...); these modules parse options and print.
"""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(help="Switchboard: a WhatsApp customer-support agent.", no_args_is_help=True)


def _register_commands() -> None:
    from server.cli.agents import agents_app
    from server.cli.audit import audit
    from server.cli.chat import chat
    from server.cli.doctor import doctor
    from server.cli.eval_answers import answers as eval_answers
    from server.cli.eval_conversations import conversations as eval_conversations
    from server.cli.eval_router import router as eval_router
    from server.cli.forget import forget
    from server.cli.knowledge import eval_app, ingest
    from server.cli.migrate import migrate
    from server.cli.prune import prune
    from server.cli.report import report
    from server.cli.seed import seed
    from server.cli.serve import serve, worker
    from server.cli.simulate import simulate
    from server.cli.stop import stop
    from server.cli.templates import templates_app

    for command in (chat, seed, ingest):  # the order `switchboard --help` lists them in
        app.command()(command)
    eval_app.command(name="router")(eval_router)
    eval_app.command(name="answers")(eval_answers)
    eval_app.command(name="conversations")(eval_conversations)
    app.add_typer(eval_app, name="eval")
    app.add_typer(agents_app, name="agents")
    app.add_typer(templates_app, name="templates")
    for command in (serve, worker, simulate, doctor, stop, migrate, report, prune, forget, audit):
        app.command()(command)


_register_commands()


def main() -> None:
    """The `switchboard` entry point: a store that does not answer is one line and exit 2,
    whichever command met it (serve and worker check before starting; chat, seed, ingest
    and agents meet it on first use)."""
    from server.database import DatabaseUnreachable
    from server.migrations import MigrationError

    try:
        app()
    except (DatabaseUnreachable, MigrationError) as error:
        hint = " (check DATABASE_URL)" if isinstance(error, DatabaseUnreachable) else ""
        Console(stderr=True).print(f"cannot start: {error}{hint}", markup=False,
                                   highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
