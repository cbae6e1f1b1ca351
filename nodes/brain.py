"""The offline brain: a deterministic chat model that needs no network.

It sits behind LangChain's chat-model interface (bind_tools, tool calls, usage metadata), so
the graph runs the same code with or without a real model. It reads only what a real model
would read: the prompt and the transcript. It serves when no model is configured and stands
in when the configured one fails. Routing is the offline router's (`classify`, nodes/intents).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool

from graph.base.extractive import best_answer
from graph.base.language import detect_language
from nodes import prompts
from nodes.brain_replies import reply_after_tool, tool_name
from nodes.common import turn_text
from nodes.intents.gloss import english_gloss
from nodes.intents.router import default_router
from nodes.order_choice import offered_options, order_meant, picked_option
from nodes.own_account import asks_about_own_account
from nodes.prompts_i18n import localized, reply_language

NAME = "switchboard-offline-brain"

_LANGUAGE_RULE = re.compile(r"customer's language if it is one of: (.*?); otherwise in ([\w-]+)\.")
"""The agent prompt's language rule (prompts.AGENT_PROMPT): the languages the business writes."""
_SMALL_TALK = ("greeting", "thanks", "noise")
"""Kinds that need no agent, in the order a burst of several is answered by."""


def classify(text: str) -> dict[str, Any]:
    """RouteDecision arguments for a customer's text: the offline router's entry point.

    Patterns first, then the intent model over WordLlama embeddings (nodes/intents); an
    unsure model gives intent "other" with low confidence. A burst of messages ("hi" twice,
    "hello" then "thanks") that is all small talk is small talk."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        decisions = [classify(line) for line in lines]
        if all(d["kind"] in _SMALL_TALK for d in decisions):
            return min(decisions, key=lambda d: _SMALL_TALK.index(d["kind"]))
    return default_router().decide(text)


def _field(prompt: str, name: str) -> str:
    match = re.search(rf"^{name}: (.*)$", prompt, re.M)
    return match.group(1).strip() if match else ""


def _passages(prompt: str) -> list[dict[str, str]]:
    return [
        {"id": m.group(1), "title": m.group(2), "section": m.group(3), "text": m.group(4)}
        for m in re.finditer(r'<passage id="([^"]+)" title="([^"]*)" section="([^"]*)">\n(.*?)\n'
                             r"</passage>", prompt, re.S)
    ]


class OfflineBrain(BaseChatModel):
    """Routes with the offline router, answers from passages, calls the order tool, hands off when unsure."""

    min_overlap: int = 2
    """Content words an answer sentence must share with the question."""

    @property
    def _llm_type(self) -> str:
        return NAME

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None,
                   **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        tools = {t["function"]["name"] for t in kwargs.get("tools", [])}
        if "RouteDecision" in tools:
            name, args = "RouteDecision", classify(turn_text(messages))
        else:
            name, args = self._agent_step(messages, tools)
        message = AIMessage(
            content="", tool_calls=[{"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}",
                                     "type": "tool_call"}],
            response_metadata={"model_name": NAME},
            usage_metadata={"input_tokens": 0, "output_tokens": 0, "total_tokens": 0})
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: Any = None, **kwargs: Any) -> ChatResult:
        # Pure CPU and fast: no need for LangChain's default hop to a thread pool.
        return self._generate(messages, stop, None, **kwargs)

    def _agent_step(self, messages: list[BaseMessage], tools: set[str]) -> tuple[str, dict]:
        prompt = next((m.text for m in messages if isinstance(m, SystemMessage)), "")
        intent = _field(prompt, "Intent") or "other"
        verified = _field(prompt, "Verified") == "yes"
        refs = [r for r in _field(prompt, "Order references").split(", ") if r.startswith("HP-")]
        text = turn_text(messages)
        results = _tool_results_this_turn(messages)
        language = _language(prompt, messages)
        if intent == "human_request":
            return "Reply", _reply(intent, localized(prompts.UNSURE, language), handoff=True, confidence=0.9)
        if results:
            # Data for the reply, never the reply: a template filled from the result, else
            # an answer from the passages below; never another tool call in the same turn.
            composed = reply_after_tool(tool_name(results[-1], messages), results[-1].text, language)
            if composed is not None:
                return "Reply", _reply(intent, composed, confidence=0.85)
        elif verified and intent == "order_status" and "order_status" in tools and (
                asks_about_own_account(text) or picked_option(text, offered_options(messages))):
            # The order this message is about, never merely the last one mentioned; none
            # clear: the profile's recent orders, to ask which (nodes/order_choice.py).
            if order := order_meant(text, refs, messages):
                return "order_status", {"order_id": order}
            if "customer_profile" in tools:
                return "customer_profile", {}
        elif verified and intent == "complaint" and "create_ticket" in tools:
            return "create_ticket", {"subject": text[:80], "details": text, "priority": "high"}
        answer = best_answer(_question(text), _passages(prompt), self.min_overlap)
        if answer is None:
            return "Reply", _reply(intent, localized(prompts.UNSURE, language), handoff=True, confidence=0.2)
        found, cited = answer
        return "Reply", _reply(intent, found, citations=cited, confidence=0.7)


def _language(prompt: str, messages: list[BaseMessage]) -> str:
    """The language to answer in, read as a model would: the last one the customer's messages
    show, if the prompt's language rule allows it, else the rule's fallback."""
    language = None
    for message in messages:
        if isinstance(message, HumanMessage):
            language = detect_language(message.text, default=language)
    rule = _LANGUAGE_RULE.search(prompt)
    allowed = [*rule.group(1).split(", "), rule.group(2)] if rule else ["en"]
    return reply_language(language, allowed)


def _question(text: str) -> str:
    """The question as the brain matches it to passages: one in another language gets English
    words for its topic added, since the passages may be English only."""
    if detect_language(text) in (None, "en"):
        return text
    return f"{text}\n{english_gloss(text)}"


def _reply(intent: str, answer: str, citations: list[str] | None = None, handoff: bool = False,
           confidence: float = 0.7) -> dict[str, Any]:
    intent = intent if intent in ("order_status", "returns_refunds", "product_question", "billing",
                                  "complaint", "human_request") else "other"
    return {"intent": intent, "answer": answer[:900], "citations": citations or [],
            "handoff": handoff, "confidence": confidence}


def _tool_results_this_turn(messages: list[BaseMessage]) -> list[ToolMessage]:
    results: list[ToolMessage] = []
    for m in reversed(messages):
        if isinstance(m, HumanMessage):
            break
        if isinstance(m, ToolMessage) and m.name != "Reply":  # feedback on a reply is no data
            results.append(m)
    return list(reversed(results))
