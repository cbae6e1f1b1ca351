"""`switchboard ingest` and `switchboard eval retrieval`: fill and measure the knowledge base."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

console = Console()
eval_app = typer.Typer(help="Measure Switchboard.", no_args_is_help=True)


def ingest(inputs: Annotated[list[str], typer.Argument(
               metavar="PATH_OR_URL",
               help="Files, folders or http(s) URLs: Markdown, HTML, PDF, text, FAQ CSV/JSON.")],
           prune: bool = typer.Option(False, help="Delete documents no input produced."),
           recreate: bool = typer.Option(False, help="Empty the collection first (needed after "
                                                     "changing the embedding model)."),
           allow_private: bool = typer.Option(
               False, "--allow-private",
               help="Let URLs (and their redirects) reach private, loopback and link-local "
                    "addresses, e.g. an intranet help center. Cloud metadata stays refused."),
           max_download_mb: float | None = typer.Option(
               None, min=0.001, help="Largest document to download or read, in MB once "
                                     "decompressed [default: INGEST_MAX_DOWNLOAD_MB or 20].")):
    """Ingest documents into the knowledge base; unchanged chunks are not embedded again.

    Exits 1 if any source failed (the others are ingested), 2 if the run was refused before
    anything was written."""
    from graph.base.settings import get_settings
    from knowledge.base import EmbeddingModelMismatch, open_collection
    from knowledge.fetch import FetchPolicy
    from knowledge.ingest import ingest as run_ingest
    from knowledge.sources import refusals

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its complaints become our error lines
    settings = get_settings()
    megabytes = max_download_mb or settings.ingest_max_download_mb
    policy = FetchPolicy(allow_private=allow_private, max_bytes=int(megabytes * 1_000_000))
    if refused := refusals(inputs, policy):  # before --recreate empties anything
        _refuse(refused)
    try:
        kb = open_collection(settings, recreate=recreate)
    except EmbeddingModelMismatch as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("Ingesting", total=None)

        def advance(source, n, total):
            progress.update(task, total=total, completed=n - 1,
                            description=f"Ingesting {source.location[-50:]}")

        report = run_ingest(kb, inputs, prune_missing=prune, progress=advance, policy=policy,
                            allowed_hosts=settings.allowed_url_hosts)
        progress.update(task, completed=progress.tasks[0].total)
    if report.refused:
        _refuse(report.errors)
    for asked, final in report.fetched:
        _line("fetched", final + (f" (asked for {asked})" if final != asked else ""))
    for location, reason in report.skipped:
        _line("[yellow]skipped[/]", f"{location}: {reason}")
    for location, reason in report.errors:
        _line("[red]error[/]", f"{location}: {reason}")
    console.print(f"Ingested {report.files} files, {report.chunks} chunks "
                  f"({report.embedded} embedded, {report.unchanged} unchanged, "
                  f"{report.deleted} deleted); {len(report.skipped)} skipped, "
                  f"{len(report.errors)} errors.")
    if report.errors:
        raise typer.Exit(1)


def _line(label: str, text: str) -> None:
    """One line however long (never wrapped), with the text shown as is, not as markup."""
    console.print(f"{label} {escape(text)}", soft_wrap=True, highlight=False)


def _refuse(refused: list[tuple[str, str]]) -> None:
    for location, reason in refused:
        _line("[red]error[/]", f"{location}: {reason}")
    console.print("Nothing was ingested.")
    raise typer.Exit(2)


@eval_app.command()
def retrieval():
    """Recall@1, recall@5 and MRR on knowledge/eval/retrieval.jsonl for each embedding option."""
    from graph.base.settings import get_settings
    from knowledge.evaluation import evaluate_options

    with console.status("Embedding the sample help center and the questions..."):
        results = evaluate_options(get_settings())
    table = Table(title=f"Retrieval on {results[0].questions} labelled questions")
    for column in ("option", "recall@1", "recall@5", "MRR"):
        table.add_column(column, justify="left" if column == "option" else "right")
    for scores in results:
        table.add_row(scores.name, f"{scores.recall_at_1:.3f}", f"{scores.recall_at_5:.3f}",
                      f"{scores.mrr:.3f}")
    console.print(table)
