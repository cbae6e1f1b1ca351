"""A scripted chat model: plays back planned responses and records what it was asked.

It supports `bind_tools` (and so tool calling and structured output through tool calls),
which LangChain's stock fake chat models do not.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

Step = AIMessage | Exception | Callable[[list[BaseMessage], list[str]], AIMessage]


def tool_call(name: str, usage: tuple[int, int] = (0, 0), **args: Any) -> AIMessage:
    """An AIMessage that calls one tool."""
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "type": "tool_call",
                                              "id": f"call_{uuid.uuid4().hex[:10]}"}],
                     usage_metadata={"input_tokens": usage[0], "output_tokens": usage[1],
                                     "total_tokens": sum(usage)})


def reply(answer: str, citations: list[str] | None = None, intent: str = "other",
          handoff: bool = False, confidence: float = 0.9) -> AIMessage:
    """An AIMessage that calls the Reply tool, as the agent does to finish."""
    return tool_call("Reply", answer=answer, citations=citations or [], intent=intent,
                     handoff=handoff, confidence=confidence)


def route(intent: str, kind: str = "query", confidence: float = 0.9) -> AIMessage:
    return tool_call("RouteDecision", kind=kind, intent=intent, confidence=confidence)


class ScriptedChatModel(BaseChatModel):
    """Answers each call with the next scripted step; `repeat_last` keeps replaying the last."""

    steps: list[Any] = Field(default_factory=list)
    repeat_last: bool = False
    calls: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any):
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        tools = [t["function"]["name"] for t in kwargs.get("tools", [])]
        self.calls.append({"messages": messages, "tools": tools})
        if not self.steps:
            raise AssertionError(f"scripted model ran out of steps (call {len(self.calls)})")
        step = self.steps[0] if self.repeat_last and len(self.steps) == 1 else self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        message = step(messages, tools) if callable(step) else step
        # A fresh id per call, as a provider gives, so repeated steps stay distinct messages.
        message = message.model_copy(update={"id": f"run-{uuid.uuid4().hex[:10]}"})
        return ChatResult(generations=[ChatGeneration(message=message)])
