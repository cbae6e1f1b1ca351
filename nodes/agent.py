"""Agent: the capable model, in a tool loop capped per turn, finishing with a Reply."""

from __future__ import annotations

from langchain_core.messages import SystemMessage
from langgraph.runtime import Runtime

from graph.base.settings import BusinessSettings, get_settings
from graph.context import Context
from graph.services import services_for
from graph.state import State
from nodes import prompts
from nodes.common import ask_model
from nodes.schemas import Reply
from tools import TOOLS

HISTORY = 40
"""Messages of transcript the model sees; older ones are summarised in the customer context."""


LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "de": "German", "fr": "French",
                  "pt": "Portuguese"}
"""How the agent prompt names the language detected offline (graph/base/language.py)."""


def system_prompt(state: State, business: BusinessSettings | None = None) -> str:
    """The agent's system prompt for this turn, speaking for `business` (default: the
    process-wide settings')."""
    notes = [prompts.INJECTION_NOTE] if "injection" in state.flags else []
    if state.handoff_notes:
        notes.append(prompts.HANDBACK_NOTE.format(notes=state.handoff_notes))
    return prompts.fill(
        prompts.AGENT_PROMPT, business or get_settings().business,
        intent=state.intent or "other",
        customer_language=LANGUAGE_NAMES.get(state.language, state.language),
        verified="yes" if state.verification["status"] == "verified" else "no",
        customer=customer_context(state),
        order_refs=", ".join(state.order_refs) or "none",
        tools=tool_list(),
        notes="\n".join(notes),
        passages="\n".join(prompts.PASSAGE.format(**p) for p in state.passages) or "(none)",
    )


def customer_context(state: State) -> str:
    """The customer as the agent prompt states them: name, tier and how they were verified."""
    customer = state.customer
    if not customer:
        return "unknown"
    method = state.verification.get("method") or ""
    return prompts.CUSTOMER_CONTEXT.format(
        name=customer["name"], tier=customer["tier"],
        how=prompts.VERIFIED_BY.get(method, "verified"))


def tool_list() -> str:
    """The tools the agent may call, one line each: name and what it is for."""
    return "\n".join(prompts.TOOL_LINE.format(name=tool.name,
                                              purpose=tool.description.strip().splitlines()[0])
                     for tool in TOOLS)


def history(state: State) -> list:
    """The transcript the agent model sees: the last HISTORY messages, never starting with a
    tool result."""
    history = list(state.messages[-HISTORY:])
    # Never start mid tool exchange: a tool result without its call is rejected by providers.
    while history and history[0].type == "tool":
        history.pop(0)
    return history


async def agent(state: State, runtime: Runtime[Context]) -> dict:
    """One agent step: the model answers with a Reply or asks for tools, within the step cap."""
    context = runtime.context
    if context and context.should_yield and await context.should_yield():
        return {"silence": "human_took_over"}  # a human is writing: the bot steps back
    services = await services_for(context)
    message, update = await ask_model(
        "agent", services, context, [*TOOLS, Reply],
        [SystemMessage(system_prompt(state, services.settings.business)), *history(state)], state.turn)
    steps = state.agent_steps + 1
    update.update(messages=[message], agent_steps=steps)
    wants_tools = any(call["name"] != "Reply" for call in message.tool_calls)
    if wants_tools and steps >= services.settings.max_tool_iterations:
        update["handoff_reason"] = "tool_loop_cap"
    return update
