"""Returns and refunds policy tool: answers from the knowledge base, with citable passages."""

from __future__ import annotations

from langchain_core.messages import ToolMessage
from langgraph.types import Command

from tools.identity import SupportRuntime, shop_services


async def returns_policy(question: str, runtime: SupportRuntime) -> Command:
    """Look up the returns, refunds, exchanges and warranty policy for a question.

    Returns policy passages with ids you can cite in your Reply.

    Args:
        question: The customer's question in your own words, e.g. "refund time for a sofa".
    """
    services = await shop_services(runtime)
    passages = await services.knowledge.search(f"returns refunds {question}", k=3)
    text = "\n\n".join(f"[{p['id']}] {p['title']} / {p['section']}: {p['text']}" for p in passages)
    # The passages join this turn's retrieved set, so the output guardrail accepts citing them.
    return Command(update={
        "passages": passages,
        "messages": [ToolMessage(text or "No policy passage found.", tool_call_id=runtime.tool_call_id)],
    })
