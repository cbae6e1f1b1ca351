"""Output guardrail: the reply must fit the schema, cite only this turn's passages, link only
to allowed hosts and carry no secrets. A failing reply is repaired once or replaced.

Links are judged by `graph.base.links`; `say()` applies the same rule again to every text sent,
so a link removed or missed here still cannot leave."""

from __future__ import annotations

import re

from langgraph.runtime import Runtime
from pydantic import ValidationError

from graph.base.links import is_allowed_url, remove_links
from graph.context import Context
from graph.services import services_for
from graph.state import Passage, State
from nodes import prompts
from nodes.checks import scrub_output
from nodes.schemas import Reply

LOW_CONFIDENCE = 0.35
VIP_CONFIDENCE = 0.6
"""VIP customers get a human sooner: below this, or on a complaint or billing question."""
REPEATED_FAILURES = 3
"""Unsure answers in a row before a human is brought in."""
MAX_DRAFT = 4000
"""A draft is cut to this before it is checked (the answer is cut to 900 after): a model
talked into a megabyte of text costs no more to check than a long answer."""


def draft_of(state: State) -> dict:
    """The agent's proposed reply: its Reply call, or its plain text with [id] citations."""
    last = state.messages[-1]
    for call in getattr(last, "tool_calls", []):
        if call["name"] == "Reply":
            return dict(call["args"])
    text = last.text if hasattr(last, "text") else str(last.content)
    return {"intent": state.intent or "other", "answer": text, "confidence": 0.6,
            "citations": re.findall(r"\[([\w-]+(?:#[\w-]+)?)\]", text)}


def cited(passage: Passage, allowed_hosts: list[str]) -> Passage:
    """A cited passage as the Sources line shows it: its URL only if allowed, no link in its
    title or section (they come from documents anyone with ingest rights wrote)."""
    url = passage.get("url") or ""
    return {**passage, "url": url if is_allowed_url(url, allowed_hosts) else "",
            "title": remove_links(str(passage.get("title") or ""), allowed_hosts)[0],
            "section": remove_links(str(passage.get("section") or ""), allowed_hosts)[0]}


def repair(draft: dict, state: State, allowed_hosts: list[str]) -> tuple[dict, list[str]]:
    """A draft fixed in one pass, and what had to be fixed."""
    problems: list[str] = []
    retrieved = {p["id"] for p in state.passages}
    answer = str(draft.get("answer") or "").strip()[:MAX_DRAFT]
    answer, dropped = remove_links(answer, allowed_hosts)
    problems += ["url_not_allowed"] if dropped else []
    answer, leaked = scrub_output(answer)
    problems += leaked
    if len(answer) > 900:
        problems.append("too_long")
        cut = answer[:900]
        answer = cut[: cut.rfind(". ") + 1] or cut[:897] + "..."
    citations = [c for c in draft.get("citations") or [] if isinstance(c, str)]
    if any(c not in retrieved for c in citations):
        problems.append("citation_not_retrieved")
    citations = list(dict.fromkeys(c for c in citations if c in retrieved))
    if len(citations) > 5:
        problems.append("too_many_citations")
    try:
        confidence = min(1.0, max(0.0, float(draft.get("confidence", 0.5))))
    except (TypeError, ValueError):
        problems.append("bad_confidence")
        confidence = 0.3
    return {"intent": draft.get("intent") or state.intent or "other", "answer": answer,
            "citations": citations[:5], "handoff": bool(draft.get("handoff", False)),
            "confidence": confidence}, problems


async def output_guardrail(state: State, runtime: Runtime[Context]) -> dict:
    """Check the agent's draft (citations, links, claims) and repair or replace it before anyone
    sees it."""
    settings = (await services_for(runtime.context)).settings
    draft = draft_of(state)
    fixed, problems = repair(draft, state, settings.allowed_url_hosts)
    events = [f"turn {state.turn}: repaired {p}" for p in problems]
    try:
        reply = Reply.model_validate(fixed)
        if not reply.answer:
            raise ValueError("empty answer")
    except (ValidationError, ValueError) as error:
        events.append(f"turn {state.turn}: replaced unusable reply ({type(error).__name__})")
        reply = Reply(intent="other", answer=prompts.SAFE_FALLBACK, handoff=True, confidence=0.0)
    update: dict = {"reply": reply.model_dump(), "guardrail_events": events,
                    "citations": [cited(p, settings.allowed_url_hosts)
                                  for c in reply.citations for p in state.passages if p["id"] == c]}
    vip = state.customer is not None and state.customer.get("tier") == "vip"
    weak = reply.confidence < VIP_CONFIDENCE and not reply.citations
    update["unresolved_turns"] = state.unresolved_turns + 1 if weak else 0
    reason = None
    if reply.answer == prompts.SAFE_FALLBACK:
        reason = "guardrail_failure"
    elif reply.handoff or reply.confidence < LOW_CONFIDENCE:
        reason = "agent_unsure"
    elif vip and (reply.confidence < VIP_CONFIDENCE or reply.intent in ("complaint", "billing")):
        reason = "vip"
    elif update["unresolved_turns"] >= REPEATED_FAILURES:
        reason = "repeated_failure"
    if reason and state.cooldown:
        # Just back from a human: no automatic escalation, so handoff cannot loop.
        if reply.handoff or reply.confidence < LOW_CONFIDENCE:
            update["reply"] = {**update["reply"], "handoff": False, "answer": prompts.COOLDOWN_UNSURE}
    elif reason:
        update["handoff_reason"] = reason
    return update
