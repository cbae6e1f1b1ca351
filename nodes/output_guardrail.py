"""Output guardrail: the reply must fit the schema, cite only this turn's passages, link only
to allowed hosts, carry no secrets and no internal text (tool results, instructions, data).
What can be fixed is fixed (nodes/reply_check.py); an unusable reply is asked for again once,
then the offline brain answers (nodes/reply_repair.py), else a safe text and a human. An
unsure reply asks the customer once before a human is brought in (nodes/humility.py).

Links are judged by `graph.base.links`; `say()` applies the same rule again to every text sent,
so a link removed or missed here still cannot leave."""

from __future__ import annotations

from langgraph.runtime import Runtime
from pydantic import ValidationError

from graph.base.links import is_allowed_url, remove_links
from graph.context import Context
from graph.services import services_for
from graph.state import Passage, State
from nodes import audit_notes, prompts
from nodes.humility import clarifying_reply, human_offer, may_clarify
from nodes.prompts_i18n import localized, reply_language
from nodes.reply_check import check_draft, draft_of
from nodes.reply_repair import second_try
from nodes.schemas import Reply

LOW_CONFIDENCE = 0.35
VIP_CONFIDENCE = 0.6
"""VIP customers get a human sooner: below this, or on a complaint or billing question."""
REPEATED_FAILURES = 3
"""Unsure answers in a row before a human is brought in."""


def cited(passage: Passage, allowed_hosts: list[str]) -> Passage:
    """A cited passage as the Sources line shows it: its URL only if allowed, no link in its
    title or section (they come from documents anyone with ingest rights wrote)."""
    url = passage.get("url") or ""
    return {**passage, "url": url if is_allowed_url(url, allowed_hosts) else "",
            "title": remove_links(str(passage.get("title") or ""), allowed_hosts)[0],
            "section": remove_links(str(passage.get("section") or ""), allowed_hosts)[0]}


async def output_guardrail(state: State, runtime: Runtime[Context]) -> dict:
    """Check the agent's draft (schema, citations, links, secrets, internal text) and repair,
    ask again for or replace it before anyone sees it."""
    services = await services_for(runtime.context)
    settings = services.settings
    language = reply_language(state.language, settings.business.languages)
    checked = check_draft(draft_of(state.messages[-1], state.intent), state, settings.allowed_url_hosts)
    events = [f"turn {state.turn}: repaired {p}" for p in checked.repairs]
    recorded: dict = {}
    if checked.failures:
        usable, recorded = await second_try(state, runtime.context, services, checked)
        events += recorded.pop("guardrail_events")
        if usable is not None:
            checked = usable
            events += [f"turn {state.turn}: repaired {p}" for p in usable.repairs]
    try:
        if checked.failures:
            raise ValueError(", ".join(checked.failures))
        reply = Reply.model_validate(checked.reply)
    except (ValidationError, ValueError) as error:
        events.append(f"turn {state.turn}: replaced unusable reply ({type(error).__name__})")
        reply = Reply(intent="other", answer=localized(prompts.SAFE_FALLBACK, language), handoff=True,
                      confidence=0.0)
    update: dict = {**recorded, "reply": reply.model_dump(), "guardrail_events": events,
                    "citations": [cited(p, settings.allowed_url_hosts)
                                  for c in reply.citations for p in state.passages if p["id"] == c]}
    vip = state.customer is not None and state.customer.get("tier") == "vip"
    weak = reply.confidence < VIP_CONFIDENCE and not reply.citations
    update["unresolved_turns"] = state.unresolved_turns + 1 if weak else 0
    reason = None
    if reply.answer == localized(prompts.SAFE_FALLBACK, language):
        reason = "guardrail_failure"
    elif reply.handoff or reply.confidence < LOW_CONFIDENCE:
        reason = "agent_unsure"
    elif vip and (reply.confidence < VIP_CONFIDENCE or reply.intent in ("complaint", "billing")):
        reason = "vip"
    elif update["unresolved_turns"] >= REPEATED_FAILURES:
        reason = "repeated_failure"
    update["clarifications"] = 0
    if reason and state.cooldown:
        # Just back from a human: no automatic escalation, so handoff cannot loop.
        if reply.handoff or reply.confidence < LOW_CONFIDENCE:
            update["reply"] = {**update["reply"], "handoff": False,
                               "answer": localized(prompts.COOLDOWN_UNSURE, language)}
            update["choices"] = human_offer(language)
    elif (reason == "agent_unsure" and update["unresolved_turns"] < REPEATED_FAILURES
          and may_clarify(state, update["reply"], vip)):
        # Unsure for the first time in a row: ask, and offer a human, before opening a ticket.
        update.update(reply=clarifying_reply(state, update["reply"], language), citations=[],
                      clarifications=state.clarifications + 1, choices=human_offer(language))
    elif reason:
        update["handoff_reason"] = reason
    audit_notes.note(runtime.context, audit_notes.guardrail(
        state.turn, "output", [e.split(": ", 1)[-1] for e in events]))
    return update
