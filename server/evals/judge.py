"""The optional LLM judge: does a reply state a fact in other words? Asked only about facts
not found verbatim, one call per turn, on any OpenAI-compatible endpoint."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from graph.base.settings import ModelSettings, Settings
from server.evals.checks import fact_text
from server.evals.golden import Fact

JUDGE_PROMPT = """You grade a customer-support reply. For each numbered fact, decide whether \
the reply states it (in any words or language; alternatives are separated by " | ", any one \
counts). Do not reward a reply that only hints at it or contradicts it.
Answer with JSON only: a list of true/false, one per fact, in order."""
JUDGE_INPUT = "Reply:\n{reply}\n\nFacts:\n{facts}"


def judge_model(settings: Settings, model: str) -> BaseChatModel:
    """The judge: `model` on the agent model's endpoint and key (AGENT__BASE_URL, AGENT__API_KEY)."""
    from graph.services import chat_model
    from nodes.brain import OfflineBrain

    config = ModelSettings(model=model, base_url=settings.agent.base_url,
                           api_key=settings.agent.api_key, timeout_s=60.0)
    return chat_model(config, fallback=OfflineBrain())  # never used: a model is named


async def judge_facts(model: BaseChatModel, facts: Sequence[Fact], reply: str) -> dict[str, bool]:
    """The judge's verdict per fact (keyed by `fact_text`); a fact it gave no clear verdict on
    counts as not stated."""
    if not facts:
        return {}
    numbered = "\n".join(f"{n}. {fact_text(f)}" for n, f in enumerate(facts, 1))
    answer = await model.ainvoke([SystemMessage(JUDGE_PROMPT), HumanMessage(
        JUDGE_INPUT.format(reply=reply or "(no reply)", facts=numbered))])
    verdicts = parse_verdicts(str(answer.content), len(facts))
    return {fact_text(f): v for f, v in zip(facts, verdicts, strict=True)}


def parse_verdicts(text: str, count: int) -> list[bool]:
    """`count` verdicts from the judge's answer; anything unreadable is False."""
    match = re.search(r"\[.*?\]", text, re.S)
    try:
        values = json.loads(match.group(0)) if match else []
    except json.JSONDecodeError:
        values = []
    values = [v is True for v in values][:count] if isinstance(values, list) else []
    return values + [False] * (count - len(values))
