"""General help-center questions on the real sample knowledge base, through the whole graph
with the offline brain: none may ask for verification or look up an order, since none needs
the customer's own account (nodes/own_account.py).

Figures (how many ask to verify, hand off, are answered):
    PYTHONPATH=. python -m tests.integration.knowledge.test_general_questions
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from graph.base.conversation import conversation_id
from graph.base.settings import Settings
from graph.context import Context
from graph.graph import make_graph
from nodes import prompts
from tests.unit.in_memory import InMemoryShop, offline_services

pytestmark = pytest.mark.integration

QUESTIONS = Path(__file__).resolve().parents[2] / "fixtures" / "general_help_questions.txt"
STRANGER = "447000000009"  # not on file: verification would have to ask
AMELIA = "447700900101"  # on file: verified at once, so an order lookup would run
VERIFY_TEXTS = (prompts.VERIFY_ASK, prompts.VERIFY_ONE, prompts.VERIFY_PAUSED)
LOOKUPS = ("order", "recent_orders")


def questions() -> list[str]:
    """The held-out questions, one a line, comments and blanks left out."""
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def sample_knowledge():
    """The bundled sample help center in a throwaway in-memory collection."""
    from knowledge.embeddings import WordLlamaEmbedding
    from knowledge.evaluation import sample_knowledge_base

    return sample_knowledge_base(WordLlamaEmbedding(), Settings(_env_file=None).retrieval_min_similarity)


async def outcome(question: str, phone: str, knowledge) -> str:
    """What one question gets as a customer's first message: verify, lookup, handoff or answer."""
    shop = InMemoryShop()
    graph = make_graph(InMemorySaver())
    context = Context(conversation_id=conversation_id(phone), phone=phone, inbound=[question],
                      turn_key=uuid.uuid4().hex, services=offline_services(shop, knowledge))
    result = await graph.ainvoke({"messages": []}, {"configurable": {"thread_id": uuid.uuid4().hex}},
                                 context=context)
    if any(text in VERIFY_TEXTS for text in result.get("outbound", [])):
        return "verify"
    if any(call in LOOKUPS for call, _ in shop.calls):
        return "lookup"
    if "__interrupt__" in result or (result.get("reply") or {}).get("handoff"):
        return "handoff"
    return "answer"


async def measure(phone: str) -> dict[str, list[str]]:
    """The questions by outcome, asked from `phone`."""
    knowledge = sample_knowledge()
    found: dict[str, list[str]] = {}
    for question in questions():
        found.setdefault(await outcome(question, phone, knowledge), []).append(question)
    return found


async def test_no_general_question_asks_for_verification_or_reads_an_order():
    for phone in (STRANGER, AMELIA):
        found = await measure(phone)
        assert found.get("verify", []) == [] and found.get("lookup", []) == [], found


if __name__ == "__main__":
    for label, phone in (("not on file", STRANGER), ("on file", AMELIA)):
        by_outcome = asyncio.run(measure(phone))
        counts = Counter({k: len(v) for k, v in by_outcome.items()})
        print(f"{label}: {len(questions())} questions:",
              ", ".join(f"{k} {counts[k]}" for k in ("verify", "lookup", "handoff", "answer")))
        for kind in ("verify", "lookup", "handoff"):
            for question in by_outcome.get(kind, []):
                print(f"  {kind}: {question}")
