"""`switchboard ingest` and `switchboard eval retrieval`: fill and measure the knowledge base."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

console = Console()
eval_app = typer.Typer(help="Measure Switchboard.", no_args_is_help=True)


def ingest(inputs: Annotated[list[str], typer.Argument(
               metavar="PATH_OR_URL",
               help="Files, folders or http(s) URLs: Markdown, HTML, PDF, text, FAQ CSV/JSON.")],
           prune: bool = typer.Option(False, help="Delete documents no input produced."),
           recreate: bool = typer.Option(False, help="Empty the collection first (needed after "
                                                     "changing the embedding model).")):
    """Ingest documents into the knowledge base; unchanged chunks are not embedded again."""
    from knowledge.base import EmbeddingModelMismatch, open_collection
    from knowledge.ingest import ingest as run_ingest
    from server.settings import get_settings

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its complaints become our error lines
    try:
        kb = open_collection(get_settings(), recreate=recreate)
    except EmbeddingModelMismatch as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("Ingesting", total=None)

        def advance(source, n, total):
            progress.update(task, total=total, completed=n - 1,
                            description=f"Ingesting {source.location[-50:]}")

        report = run_ingest(kb, inputs, prune_missing=prune, progress=advance)
        progress.update(task, completed=progress.tasks[0].total)
    for location, reason in report.skipped:
        console.print(f"[yellow]skipped[/] {location}: {reason}")
    for location, reason in report.errors:
        console.print(f"[red]error[/] {location}: {reason}")
    console.print(f"Ingested {report.files} files, {report.chunks} chunks "
                  f"({report.embedded} embedded, {report.unchanged} unchanged, "
                  f"{report.deleted} deleted); {len(report.skipped)} skipped, "
                  f"{len(report.errors)} errors.")
    if report.errors and not report.files:
        raise typer.Exit(1)


@eval_app.command()
def retrieval():
    """Recall@1, recall@5 and MRR on knowledge/eval/retrieval.jsonl for each embedding option."""
    from knowledge.evaluation import evaluate_options
    from server.settings import get_settings

    with console.status("Embedding the sample help center and the questions..."):
        results = evaluate_options(get_settings())
    table = Table(title=f"Retrieval on {results[0].questions} labelled questions")
    for column in ("option", "recall@1", "recall@5", "MRR"):
        table.add_column(column, justify="left" if column == "option" else "right")
    for scores in results:
        table.add_row(scores.name, f"{scores.recall_at_1:.3f}", f"{scores.recall_at_5:.3f}",
                      f"{scores.mrr:.3f}")
    console.print(table)
