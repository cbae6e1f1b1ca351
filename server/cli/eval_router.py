"""`switchboard eval router`: how well the offline intent router generalises.

Trains on the labelled utterance set minus a stratified held-out share (fixed seed), routes
the held-out messages and reports per-label accuracy, overall accuracy, handoff recall and the
false-handoff rate. Exits 1 when a target is missed. The work is in nodes/intents/evaluation.py.
"""

from __future__ import annotations

import json
import time

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()


def router(
        json_output: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
        holdout: float = typer.Option(0.25, min=0.05, max=0.9, help="Share of each label held out."),
        seed: int = typer.Option(13, help="Seed of the stratified split."),
        misses: bool = typer.Option(False, "--misses", help="List the held-out messages routed wrong.")):
    """Accuracy, handoff recall and false handoffs of the offline router on a held-out split."""
    from nodes.intents.evaluation import (
        MAX_FALSE_HANDOFF_RATE,
        TARGET_ACCURACY,
        TARGET_HANDOFF_RECALL,
        evaluate,
    )

    started = time.perf_counter()
    scores = evaluate(holdout, seed)
    seconds = time.perf_counter() - started
    if json_output:
        print(json.dumps({
            "trained_on": scores.trained_on, "held_out": sum(t for _, t in scores.per_label.values()),
            "holdout": holdout, "seed": seed, "accuracy": round(scores.accuracy, 4),
            "handoff_recall": round(scores.handoff_recall, 4),
            "false_handoff_rate": round(scores.false_handoff_rate, 4),
            "per_label": {label: {"right": r, "total": t, "accuracy": round(r / t, 4)}
                          for label, (r, t) in scores.per_label.items()},
            "misses": [{"text": m.text, "expected": m.expected, "got": m.got} for m in scores.misses],
            "failures": scores.failures}, ensure_ascii=False, indent=2))
    else:
        held_out = sum(t for _, t in scores.per_label.values())
        table = Table(title=f"Router on {held_out} held-out messages (trained on "
                            f"{scores.trained_on}, seed {seed}, {seconds:.1f} s)")
        for column in ("label", "right", "total", "accuracy"):
            table.add_column(column, justify="left" if column == "label" else "right")
        for label, (right, total) in scores.per_label.items():
            table.add_row(label, str(right), str(total), f"{right / total:.3f}")
        table.add_section()
        table.add_row("[bold]overall[/]", "", str(held_out),
                      f"[bold]{scores.accuracy:.3f}[/] (target ≥ {TARGET_ACCURACY})")
        table.add_row("handoff recall", "", "", f"{scores.handoff_recall:.3f} "
                                                f"(target ≥ {TARGET_HANDOFF_RECALL})")
        table.add_row("false handoffs", "", "", f"{scores.false_handoff_rate:.2%} "
                                                f"(target ≤ {MAX_FALSE_HANDOFF_RATE:.1%})")
        console.print(table)
        if misses:
            for miss in scores.misses:
                console.print(f"{miss.expected} → {miss.got}: {escape(miss.text)}", soft_wrap=True,
                              highlight=False)
        for failure in scores.failures:
            console.print(f"[red]below target:[/] {failure}")
    if scores.failures:
        raise typer.Exit(1)
