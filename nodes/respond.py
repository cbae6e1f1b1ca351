"""Respond: render the checked reply for WhatsApp, with its numbered sources."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.base.language import detect_language
from graph.context import Context
from graph.services import services_for
from graph.state import Passage, State, move
from nodes import prompts
from nodes.common import say
from nodes.order_choice import question_choices
from nodes.prompts_i18n import localized, reply_language


def render(answer: str, citations: list[Passage]) -> str:
    """The WhatsApp text: the answer, then a short numbered list of linked sources."""
    if not citations:
        return answer
    sources = "\n".join(f"{i}. {p['title']} › {p['section']}" + (f": {p['url']}" if p.get("url") else "")
                        for i, p in enumerate(citations, 1))
    return f"{answer}\n\nSources:\n{sources}"


def noted(answer: str, citations: list[Passage], language: str) -> str:
    """`answer` with a short note in the customer's language when it quotes the help center in
    English for a customer who writes another language ("(Respuesta en inglés)")."""
    if not citations or language == "en" or detect_language(answer) != "en":
        return answer
    return f"{localized(prompts.ENGLISH_NOTE, language)}\n{answer}"


async def respond(state: State, runtime: Runtime[Context]) -> dict:
    """Send the checked reply with its numbered sources; a turn with nothing to say records why."""
    if not state.reply:
        # Canned or verification texts were said by earlier nodes; else this was noise.
        return {} if state.outbound else {"silence": "noise"}
    context = runtime.context or Context()
    business = (await services_for(context)).settings.business
    answer = noted(state.reply["answer"], state.citations,
                   reply_language(state.language, business.languages))
    replaced = state.messages[-1].id if state.messages[-1].type == "ai" else None
    update = {**say(render(answer, state.citations), replace=replaced),
              **move(state.status, "answered", context.clock().isoformat())}
    if offered := question_choices(state.reply["answer"]):  # "which order?" as buttons or a list
        update["choices"] = offered
    return update
