"""`switchboard eval conversations`: the golden multi-turn conversations, run against whichever
brain is configured (the offline brain unless ROUTER__MODEL / AGENT__MODEL name one), with a
table per scenario and per check, latency and cost per turn, and totals. Exits 1 when the share
of passed checks is below `--min-pass`. The work is in server/evals/.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()

DEFAULT_MIN_PASS = 0.8
"""The share of checks below which the command fails: the floor CI holds the offline brain to
(it answers some golden turns humbly instead of rightly), not a target for a model."""


def conversations(
        json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
        only: Annotated[list[str] | None, typer.Option(
            "--only", help="Run only this conversation (repeatable).")] = None,
        misses: bool = typer.Option(False, "--misses", help="Show each failed check and the replies."),
        min_pass: float = typer.Option(DEFAULT_MIN_PASS, min=0.0, max=1.0,
                                       help="Fail (exit 1) below this share of passed checks."),
        judge_model: str | None = typer.Option(
            None, help="Ask this model (on AGENT__BASE_URL with AGENT__API_KEY) about facts a "
                       "reply does not state verbatim."),
        directory: Annotated[Path | None, typer.Option(
            "--dir", help="A folder of golden YAML files to run (default: the ones shipped "
                          "with Switchboard).")] = None):
    """Run the golden conversations and check every turn."""
    from server.cli.chat import quiet
    from server.evals.golden import GOLDEN_DIR, GoldenFileError, load_conversations

    quiet()
    try:
        golden = load_conversations(directory or GOLDEN_DIR)
    except GoldenFileError as error:
        console.print(f"[red]{escape(str(error))}[/]")
        raise typer.Exit(2) from None
    if only:
        unknown = set(only) - {c.name for c in golden}
        if unknown:
            console.print(f"[red]no such conversation: {escape(', '.join(sorted(unknown)))}[/]")
            raise typer.Exit(2)
        golden = [c for c in golden if c.name in only]
    report = asyncio.run(_run(golden, judge_model, quiet_progress=json_output))
    if json_output:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        _print(report, misses)
    if report.check_pass_rate < min_pass:
        if not json_output:
            console.print(f"[red]below --min-pass {min_pass:.2f}[/]")
        raise typer.Exit(1)


async def _run(golden, judge_model: str | None, *, quiet_progress: bool):
    from graph.base.settings import get_settings
    from server.composition import open_core
    from server.evals.judge import judge_model as make_judge
    from server.evals.runner import GoldenRunner, Report

    settings = get_settings()
    async with open_core(settings) as core:
        services = core.services
        brain = "offline brain" if services.agent_model is services.fallback_model else \
            f"agent {settings.agent.model}, router {settings.router.model or 'offline'}"
        judge = make_judge(settings, judge_model) if judge_model else None
        runner = GoldenRunner(core.conversations, stale_after_s=settings.stale_message_age_s,
                              judge=judge)
        with console.status("Running golden conversations...") as status:
            def progress(conversation):
                if not quiet_progress:
                    status.update(f"Running {conversation.name}...")
            scenarios = await runner.run(golden, progress=progress)
    return Report(scenarios, brain=brain, judge=judge_model)


def _print(report, misses: bool) -> None:
    scenarios = Table(title=f"Golden conversations ({report.brain}"
                            f"{f', judge {report.judge}' if report.judge else ''})")
    for column in ("scenario", "kind", "turns", "checks", "latency s/turn", "cost $", "result"):
        scenarios.add_column(column, justify="left" if column in ("scenario", "kind", "result") else "right")
    for s in report.scenarios:
        passed = sum(c.passed for c in s.checks)
        latency = sum(t.latency_s for t in s.turns) / len(s.turns) if s.turns else 0.0
        result = "[green]pass[/]" if s.passed else f"[red]{'error' if s.error else 'fail'}[/]"
        scenarios.add_row(s.name, s.kind, str(len(s.turns)), f"{passed}/{len(s.checks)}",
                          f"{latency:.2f}", f"{sum(t.cost_usd for t in s.turns):.4f}", result)
    console.print(scenarios)
    checks = Table(title="Per check")
    for column in ("check", "passed", "total", "rate"):
        checks.add_column(column, justify="left" if column == "check" else "right")
    for name, (passed, total) in report.by_check().items():
        checks.add_row(name, str(passed), str(total), f"{passed / total:.2f}")
    totals = report.totals()
    checks.add_section()
    checks.add_row("[bold]all[/]", str(totals["checks_passed"]), str(totals["checks"]),
                   f"[bold]{totals['check_pass_rate']:.2f}[/]")
    console.print(checks)
    console.print(f"{totals['scenarios_passed']}/{totals['scenarios']} scenarios and "
                  f"{totals['turns_passed']}/{totals['turns']} turns passed; cost "
                  f"${totals['cost_usd']:.4f}; latency per turn {totals['latency_s_mean']:.2f} s "
                  f"mean, {totals['latency_s_p95']:.2f} s p95.")
    if misses:
        for s in report.scenarios:
            if s.error:
                console.print(f"[red]{escape(s.name)}: {escape(s.error)}[/]", soft_wrap=True)
            for number, t in enumerate(s.turns, 1):
                failed = [c for c in t.checks if not c.passed]
                if not failed:
                    continue
                console.print(f"[bold]{escape(s.name)}[/] turn {number}: {escape(t.said)}",
                              soft_wrap=True, highlight=False)
                for c in failed:
                    console.print(f"  [red]{c.name}[/]: {escape(c.detail)}", soft_wrap=True,
                                  highlight=False)
                for reply in t.replies:
                    console.print(f"  [dim]› {escape(reply)}[/]", soft_wrap=True, highlight=False)
