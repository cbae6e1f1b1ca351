"""`switchboard eval answers`: answer-fact recall and citation precision of the configured brain.

Runs the labelled questions (knowledge/eval/answers.jsonl) through retrieve, agent and output
guardrail on the bundled sample and prints the scores; exits 1 when a target is missed. The
work is in nodes/answer_evaluation.py.
"""

from __future__ import annotations

import asyncio
import json
import time

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()


def answers(
        json_output: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
        misses: bool = typer.Option(False, "--misses",
                                    help="List the questions with a missing fact or a wrong citation.")):
    """Answer-fact recall and citation precision on the labelled help-center questions."""
    from graph.base.settings import get_settings
    from nodes.answer_evaluation import (
        TARGET_CITATION_PRECISION,
        TARGET_FACT_RECALL,
        evaluate_answers,
    )
    from server.composition import evaluation_services

    settings = get_settings()
    brain = settings.agent.model or "offline brain"
    started = time.perf_counter()
    with console.status("Embedding the sample help center and asking the questions..."):
        scores = asyncio.run(evaluate_answers(
            settings, lambda knowledge: evaluation_services(settings, knowledge)))
    seconds = time.perf_counter() - started
    if json_output:
        print(json.dumps({
            "brain": brain, "questions": scores.questions,
            "fact_recall": round(scores.fact_recall, 4),
            "citation_precision": round(scores.citation_precision, 4),
            "facts": scores.facts, "facts_found": scores.facts_found,
            "citations": scores.citations, "citations_right": scores.citations_right,
            "answered": scores.answered,
            "misses": [{"question": m.question, "missing_facts": m.missing_facts,
                        "wrong_citations": m.wrong_citations, "answer": m.answer}
                       for m in scores.misses],
            "failures": scores.failures}, ensure_ascii=False, indent=2))
    else:
        table = Table(title=f"Answers of the {brain} on {scores.questions} labelled questions "
                            f"({seconds:.1f} s)")
        for column in ("measure", "count", "score"):
            table.add_column(column, justify="left" if column == "measure" else "right")
        table.add_row("answer-fact recall", f"{scores.facts_found}/{scores.facts}",
                      f"{scores.fact_recall:.3f} (target ≥ {TARGET_FACT_RECALL})")
        table.add_row("citation precision", f"{scores.citations_right}/{scores.citations}",
                      f"{scores.citation_precision:.3f} (target ≥ {TARGET_CITATION_PRECISION})")
        table.add_row("answered with a citation", f"{scores.answered}/{scores.questions}",
                      f"{scores.answered / max(scores.questions, 1):.3f}")
        console.print(table)
        if misses:
            for miss in scores.misses:
                wrong = f"; cited {', '.join(miss.wrong_citations)}" if miss.wrong_citations else ""
                console.print(f"{escape(miss.question)}: missing {miss.missing_facts}{escape(wrong)}"
                              f"\n    {escape(miss.answer[:300])}", soft_wrap=True, highlight=False)
        for failure in scores.failures:
            console.print(f"[red]below target:[/] {failure}")
    if scores.failures:
        raise typer.Exit(1)
