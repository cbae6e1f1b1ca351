"""Helpers the nodes share: this turn's text, speaking to the customer, calling a model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.runtime import get_runtime

from graph.base.links import remove_links
from graph.base.settings import ModelSettings, get_settings
from graph.state import Usage
from nodes import audit_notes
from nodes.model_guard import ModelFailed, ask_guarded, ask_within
from nodes.whatsapp_format import to_whatsapp

if TYPE_CHECKING:
    from graph.breaker import CircuitBreaker
    from graph.context import Context
    from graph.services import Role, Services


def turn_text(messages: Sequence[BaseMessage]) -> str:
    """The customer's latest run of messages (before anything the bot said after them)."""
    texts: list[str] = []
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            texts.append(message.text)
        elif texts and isinstance(message, AIMessage) and not message.tool_calls:
            break
    return "\n".join(reversed(texts))


def say(*texts: str, replace: str | None = None, allowed_hosts: Sequence[str] | None = None) -> dict:
    """State update that sends texts to the customer and records them in the transcript.

    Every text the bot sends passes here, whichever brain wrote it, so here Markdown becomes
    WhatsApp markup (`nodes.whatsapp_format`) and then every link not on the allow-list is
    removed (`graph.base.links`, judging the text as it will be sent): replies, Sources
    lines, handoff and canned texts alike. The transcript keeps what the customer saw.
    `replace` is the id of a message (the agent's Reply tool call) the first text replaces,
    so the transcript keeps the answer as plain text.
    """
    hosts = allowed_url_hosts() if allowed_hosts is None else allowed_hosts
    texts = tuple(remove_links(to_whatsapp(t), hosts)[0] for t in texts)
    messages = [AIMessage(content=t, id=replace if i == 0 else None) for i, t in enumerate(texts)]
    return {"outbound": list(texts), "messages": messages}


def allowed_url_hosts() -> list[str]:
    """The link allow-list of this run's services, else the process-wide settings'."""
    try:
        context = get_runtime().context
    except RuntimeError:  # called outside a graph run (a node under test)
        context = None
    services = getattr(context, "services", None)
    return (services.settings if services is not None else get_settings()).allowed_url_hosts


def usage_of(message: BaseMessage, config: ModelSettings) -> Usage:
    """The model call's tokens and cost, for the conversation's usage counters."""
    meta = getattr(message, "usage_metadata", None) or {}
    tokens_in, tokens_out = meta.get("input_tokens", 0), meta.get("output_tokens", 0)
    cost = (tokens_in * config.usd_per_million_in + tokens_out * config.usd_per_million_out) / 1e6
    return Usage(model_calls=1, tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost)


_bound: dict[tuple, tuple[BaseChatModel, Runnable[LanguageModelInput, AIMessage]]] = {}


def bound(model: BaseChatModel, tools: list,
          tool_choice: str | None = None) -> Runnable[LanguageModelInput, AIMessage]:
    """`model.bind_tools(tools)`, converted once per model and tool set, not on every call."""
    key = (id(model), tuple(getattr(t, "name", None) or t.__name__ for t in tools), tool_choice)
    cached = _bound.get(key)
    if cached is None or cached[0] is not model:  # ids are reused after a model is freed
        if len(_bound) > 256:  # models are few and long-lived; tests make many
            _bound.clear()
        cached = _bound[key] = (model, model.bind_tools(tools, tool_choice=tool_choice))
    return cached[1]


async def ask_model(role: Role, services: Services, context: Context | None, tools: list,
                    messages: list, turn: int, tool_choice: str | None = None, *,
                    stand_in: bool = True) -> tuple[AIMessage, dict]:
    """`call_model` for the router or agent model, behind its breaker and within the turn's
    model time. The offline brain as the model has neither: it is the last resort. With
    `stand_in` false a failure raises instead of the offline brain answering these messages."""
    primary, breaker = services.model(role), services.breakers.get(role)
    budget_s = services.settings.model_guard.deadline_s
    # A bare node call (no run context) gives each call the whole budget.
    time_left = partial(context.model_time_left, budget_s) if context else lambda: budget_s
    fallback = services.fallback_model if stand_in else primary
    before = breaker.state if breaker else None
    try:
        message, update = await call_model(primary, fallback, tools, messages,
                                           getattr(services.settings, role), turn, tool_choice,
                                           breaker=breaker, time_left=time_left if breaker else None)
    except Exception as error:  # no stand-in: the caller handles it; the trail keeps the call
        audit_notes.note(context, audit_notes.model_call(
            role=role, model=audit_notes.model_name(services, role), turn=turn, usage=None,
            outcome=type(error).__name__), audit_notes.breaker_change(turn, breaker, before))
        raise
    audit_notes.note(context, *audit_notes.model_calls(services, role, turn, update),
                     audit_notes.breaker_change(turn, breaker, before))
    return message, update


class Answer(NamedTuple):
    """A model call's message, and why the offline brain gave it instead (None: the model did)."""

    message: AIMessage
    fallback: str | None = None


class AsyncStep(Runnable[dict, Answer]):
    """A step of `call_model`'s fallback chain: an async function of the request. (A
    RunnableLambda would do, at 0.2-0.6 ms more a call: each time it inspects the function's
    signature and records a run of its own.)"""

    def __init__(self, function: Callable[[dict], Awaitable[Answer]]):
        self.function = function

    def invoke(self, input: dict, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        raise NotImplementedError("model calls are async")

    async def ainvoke(self, input: dict, config: RunnableConfig | None = None,
                      **kwargs: Any) -> Answer:
        return await self.function(input)


async def call_model(primary: BaseChatModel, fallback: BaseChatModel, tools: list, messages: list,
                     config: ModelSettings, turn: int, tool_choice: str | None = None, *,
                     breaker: CircuitBreaker | None = None,
                     time_left: Callable[[], float] | None = None) -> tuple[AIMessage, dict]:
    """Call the primary model; on any failure (timeout, 5xx, rate limit, bad output), past the
    turn's deadline or while its breaker is open, the offline brain answers instead and the
    fallback is recorded in state ("turn 3: deadline").

    The fallback is LangChain's `with_fallbacks`. Its first step asks the model within its
    bounds (`model_guard.ask_guarded`: per-call timeout, the turn's deadline, the breaker,
    which counts the call) and raises any failure as `ModelFailed` naming the reason. Only
    that is handled (`exceptions_to_handle`), so an offline brain that fails raises its own
    error, not the model's. `exception_key` hands the failure to the brain's step, which
    answers with the same tools and returns the reason with its message. In a trace both
    model runs sit under one RunnableWithFallbacks run, which costs 0.1-0.2 ms a call.
    """
    if primary is fallback:  # the offline brain as the model: nothing to fall back to
        message = await ask_within(bound(primary, tools, tool_choice), messages,
                                   config.timeout_s, breaker, time_left)
        return message, {"usage": usage_of(message, config)}

    async def ask(request: dict) -> Answer:
        return Answer(await ask_guarded(partial(bound, primary, tools, tool_choice),
                                        request["messages"], config.timeout_s, breaker, time_left))

    async def answer_offline(request: dict) -> Answer:
        failure: ModelFailed = request["failure"]
        return Answer(await bound(fallback, tools).ainvoke(request["messages"]), failure.reason)

    guarded = AsyncStep(ask).with_fallbacks([AsyncStep(answer_offline)],
                                            exceptions_to_handle=(ModelFailed,),
                                            exception_key="failure")
    answer = await guarded.ainvoke({"messages": messages})
    extra: dict = {"usage": usage_of(answer.message, config)}
    if answer.fallback is not None:
        extra["fallbacks"] = [f"turn {turn}: {answer.fallback}"]
    return answer.message, extra
