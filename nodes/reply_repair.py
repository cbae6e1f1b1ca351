"""A second chance for an unusable reply: the agent model is told what was wrong once, then
the offline brain answers the turn instead. Every step is recorded in state."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage

from graph.context import Context
from graph.services import Services
from graph.state import State, add_usage
from nodes import audit_notes, prompts
from nodes.agent import history, system_prompt
from nodes.common import ask_model, bound
from nodes.model_guard import fallback_reason
from nodes.reply_check import CheckedDraft, check_draft, draft_of
from nodes.schemas import Reply


def told_what_was_wrong(draft: BaseMessage, failures: Sequence[str]) -> list[BaseMessage]:
    """What the model is told after its draft: one answer per Reply call it made (providers
    want every call answered), or one message after a plain-text draft."""
    problems = "; ".join(prompts.REPLY_PROBLEMS.get(f, f) for f in dict.fromkeys(failures))
    feedback = prompts.REPLY_REJECTED.format(problems=problems)
    calls = getattr(draft, "tool_calls", None) or []
    if calls:
        return [ToolMessage(feedback, tool_call_id=call["id"], name=call["name"]) for call in calls]
    return [HumanMessage(feedback)]


async def second_try(state: State, context: Context | None, services: Services,
                     first: CheckedDraft) -> tuple[CheckedDraft | None, dict]:
    """A usable reply after `first` failed, and the state update recording how it was found
    (guardrail events, fallbacks, usage); None when neither the model nor the brain gave one."""
    turn, hosts = state.turn, services.settings.allowed_url_hosts
    events = [f"turn {turn}: rejected reply ({', '.join(first.failures + first.internal)})"]
    update: dict = {"guardrail_events": events}
    prompt = SystemMessage(system_prompt(state, services.settings.business))
    if services.model("agent") is not services.fallback_model:
        try:
            message, extra = await ask_model(
                "agent", services, context, [Reply],
                [prompt, *history(state), *told_what_was_wrong(state.messages[-1], first.failures)],
                turn, stand_in=False)
        except Exception as error:  # noqa: BLE001 - any failure of the second try: the brain answers
            events.append(f"turn {turn}: asking again failed ({fallback_reason(error)[0]})")
        else:
            update["usage"] = add_usage(None, extra.get("usage"))
            again = check_draft(draft_of(message, state.intent), state, hosts)
            if not again.failures:
                events.append(f"turn {turn}: model repaired its reply")
                return again, update
            events.append(f"turn {turn}: rejected reply again ({', '.join(again.failures)})")
    # The brain reads the turn as it was before the draft, so it answers the customer, not us.
    before = [m for m in history(state) if m is not state.messages[-1]]
    message = await bound(services.fallback_model, [Reply]).ainvoke([prompt, *before])
    update["fallbacks"] = [f"turn {turn}: unusable reply ({', '.join(first.failures)})"]
    audit_notes.note(context, audit_notes.fallback(turn, "unusable_reply", "agent"),
                     audit_notes.model_call(role="agent", model=audit_notes.OFFLINE, turn=turn,
                                            usage=None))
    brain = check_draft(draft_of(message, state.intent), state, hosts)
    if brain.failures:
        events.append(f"turn {turn}: offline brain's reply rejected ({', '.join(brain.failures)})")
        return None, update
    events.append(f"turn {turn}: offline brain answered instead")
    return brain, update
