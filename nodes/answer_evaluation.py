"""`switchboard eval answers`: do help-center answers carry the facts, and cite the right section?

Each labelled question (knowledge/eval/answers.jsonl) names the facts an answer must contain
(prices, times, amounts, in the help center's own words) and the sections that hold them.
Every question runs through the graph's answering path (the real retrieve, agent and output
guardrail nodes) on a throwaway collection of the bundled sample, with the configured models
(the offline brain when none is configured). Routing and identity are measured elsewhere
(`switchboard eval router`): here every question is a help-center question ("other").

- answer-fact recall: facts found in the answers / facts asked for;
- citation precision: cited sections that are expected / sections cited;
- answered: questions that got an answer with a citation rather than a human.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ANSWER_SET = Path(__file__).resolve().parents[1] / "knowledge" / "eval" / "answers.jsonl"
TARGET_FACT_RECALL = 0.75
TARGET_CITATION_PRECISION = 0.80
"""Below these `switchboard eval answers` exits 1. The offline brain measured 0.802 and 0.846
on 2026-12-04 (before this answerer: 0.531 and 0.729); the targets leave a little margin."""
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class AnswerMiss:
    """One question whose answer lacked a fact or cited a section it should not have."""

    question: str
    missing_facts: list[str]
    wrong_citations: list[str]
    answer: str


@dataclass
class AnswerScores:
    """Answer quality of the configured brain over the labelled questions."""

    questions: int = 0
    facts: int = 0
    facts_found: int = 0
    citations: int = 0
    citations_right: int = 0
    answered: int = 0
    misses: list[AnswerMiss] = field(default_factory=list)

    @property
    def fact_recall(self) -> float:
        return self.facts_found / self.facts if self.facts else 0.0

    @property
    def citation_precision(self) -> float:
        return self.citations_right / self.citations if self.citations else 0.0

    @property
    def failures(self) -> list[str]:
        """Targets missed, as sentences."""
        failed = []
        if self.fact_recall < TARGET_FACT_RECALL:
            failed.append(f"answer-fact recall {self.fact_recall:.3f} < {TARGET_FACT_RECALL}")
        if self.citation_precision < TARGET_CITATION_PRECISION:
            failed.append(f"citation precision {self.citation_precision:.3f} < "
                          f"{TARGET_CITATION_PRECISION}")
        return failed


def load_answer_set(path: Path = ANSWER_SET) -> list[dict]:
    """The labelled questions: question, facts (strings an answer must contain), sections
    (chunk ids that hold them, `<doc>#<anchor>`)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _plain(text: str) -> str:
    """Lower case, single spaces, no WhatsApp or Markdown emphasis: facts match the wording."""
    return _SPACES.sub(" ", re.sub(r"[*_`]", "", text)).lower()


def _section(chunk_id: str) -> str:
    """`refunds#how-long-refunds-take~2` -> `refunds#how-long-refunds-take`."""
    return chunk_id.split("~")[0]


def score(scores: AnswerScores, item: dict, answer: str, cited: list[str]) -> None:
    """Add one question's answer and citations to the scores."""
    found = [fact for fact in item["facts"] if _plain(fact) in _plain(answer)]
    expected = set(item["sections"])
    wrong = [c for c in cited if _section(c) not in expected]
    scores.questions += 1
    scores.facts += len(item["facts"])
    scores.facts_found += len(found)
    scores.citations += len(cited)
    scores.citations_right += len(cited) - len(wrong)
    scores.answered += bool(cited)
    if wrong or len(found) < len(item["facts"]):
        scores.misses.append(AnswerMiss(item["question"], [f for f in item["facts"] if f not in found],
                                        wrong, answer))


def answering_graph() -> Any:
    """retrieve -> agent -> output_guardrail: the nodes that choose passages and answer."""
    from langgraph.graph import END, START, StateGraph

    from graph.context import Context
    from graph.state import State
    from nodes.agent import agent
    from nodes.output_guardrail import output_guardrail
    from nodes.retrieve import retrieve

    builder = StateGraph(State, context_schema=Context)
    for node in (retrieve, agent, output_guardrail):
        builder.add_node(node)
    builder.add_edge(START, "retrieve")
    builder.add_edge("retrieve", "agent")
    builder.add_edge("agent", "output_guardrail")
    builder.add_edge("output_guardrail", END)
    return builder.compile()


async def _ask(graph: Any, services: Any, question: str) -> tuple[str, list[str]]:
    from langchain_core.messages import HumanMessage

    from graph.context import Context

    context = Context(inbound=[question], services=services)
    state = await graph.ainvoke({"messages": [HumanMessage(question)], "intent": "other"},
                                context=context)
    reply = state.get("reply") or {}
    return str(reply.get("answer") or ""), list(reply.get("citations") or [])


async def evaluate_answers(settings: Any, services_for_knowledge: Callable[[Any], Any],
                           questions: list[dict] | None = None) -> AnswerScores:
    """Run every labelled question through the answering nodes on the sample help center and
    score it. `services_for_knowledge` gives the services (the configured models) over the
    throwaway knowledge base: server/composition.py `evaluation_services`."""
    from knowledge.embeddings import embedding_function
    from knowledge.evaluation import sample_knowledge_base

    questions = questions if questions is not None else load_answer_set()
    kb = await asyncio.to_thread(sample_knowledge_base, embedding_function(settings),
                                 settings.retrieval_min_similarity)
    services = services_for_knowledge(kb)
    graph = answering_graph()
    scores = AnswerScores()
    for item in questions:
        answer, cited = await _ask(graph, services, item["question"])
        score(scores, item, answer, cited)
    return scores
