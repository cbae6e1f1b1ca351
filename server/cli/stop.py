"""`switchboard stop`: stop the embedded PostgreSQL and Redis a killed process left running
(finding and signalling them is server/lifecycle.py's)."""

from __future__ import annotations

import signal

import typer

from server.lifecycle import leftover_postgres, leftover_redis, stop_process, users_of_postgres


def stop(force: bool = typer.Option(False, "--force", help="Stop them even while a Switchboard"
                                                             " process still uses them.")):
    """Stop the embedded PostgreSQL and Redis in DATA_DIR that a killed process left running
    (every command stops its own on exit)."""
    from server.cli.serve import load_settings

    data_dir = load_settings().data_dir
    users = users_of_postgres(data_dir)
    if users and not force:
        typer.echo(f"not stopping: process {', '.join(map(str, users))} still uses the embedded"
                   f" services in {data_dir}; stop it (or pass --force)", err=True)
        raise typer.Exit(1)
    stopped = []
    # SIGINT is PostgreSQL's fast shutdown (sessions are ended); SIGTERM makes Redis save and exit.
    for name, process, how in (("PostgreSQL", leftover_postgres(data_dir), signal.SIGINT),
                               ("Redis", leftover_redis(data_dir), signal.SIGTERM)):
        if process is not None:
            stop_process(process, how)
            stopped.append(f"{name} (pid {process.pid})")
    typer.echo(f"stopped {', '.join(stopped)} in {data_dir}" if stopped
               else f"nothing running in {data_dir}")
