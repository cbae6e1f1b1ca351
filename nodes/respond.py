"""Respond: render the checked reply for WhatsApp, with its numbered sources."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import Passage, State, move
from nodes.common import say


def render(answer: str, citations: list[Passage]) -> str:
    """The WhatsApp text: the answer, then a short numbered list of linked sources."""
    if not citations:
        return answer
    sources = "\n".join(f"{i}. {p['title']} › {p['section']}" + (f": {p['url']}" if p.get("url") else "")
                        for i, p in enumerate(citations, 1))
    return f"{answer}\n\nSources:\n{sources}"


async def respond(state: State, runtime: Runtime[Context]) -> dict:
    """Send the checked reply with its numbered sources; a turn with nothing to say records why."""
    if not state.reply:
        # Canned or verification texts were said by earlier nodes; else this was noise.
        return {} if state.outbound else {"silence": "noise"}
    context = runtime.context or Context()
    replaced = state.messages[-1].id if state.messages[-1].type == "ai" else None
    return {**say(render(state.reply["answer"], state.citations), replace=replaced),
            **move(state.status, "answered", context.clock().isoformat())}
