"""Humble when unsure: the first unsure turn asks one clarifying question and offers a human;
the second in a row hands off.

An unclear, off-topic or unanswerable message ("Still there?", "Yes, that one", a question the
help center does not cover) no longer opens a ticket at once. A message that tries to instruct
the bot gets a polite redirect the same way. What still hands off at once is decided before
this point or by the caller: an explicit request for a person, a lockout, a policy topic (the
router and authenticate routes), a VIP, a reply the guardrail had to replace, and repeated
weak answers (nodes/output_guardrail.py).
"""

from __future__ import annotations

from graph.state import Choice, Reply, State
from nodes import prompts
from nodes.choices import make_choices
from nodes.prompts_i18n import localized

MAX_CLARIFICATIONS = 1
"""Clarifying questions in a row before an unsure turn brings in a human."""
HUMAN_CHOICE_ID = "human"


def may_clarify(state: State, reply: Reply, vip: bool) -> bool:
    """Whether this unsure turn gets a clarifying question instead of a handoff.

    Args:
        state: the turn's state; `clarifications` counts the questions asked in a row.
        reply: the checked reply the agent gave (unsure: handoff asked or low confidence).
        vip: whether the customer is a VIP, who is handed to a person at once.

    Returns:
        True for the first unsure turn of a run; False for the next, a VIP, or a reply that
        says the customer asked for a person.
    """
    if vip or reply["intent"] == "human_request":
        return False
    return state.clarifications < MAX_CLARIFICATIONS


def clarifying_reply(state: State, reply: Reply, language: str) -> Reply:
    """The reply that replaces an unsure one: a clarifying question with an offer of a human,
    or a redirect for a message that tried to instruct the bot, in the customer's language."""
    text = prompts.INJECTION_REDIRECT if "injection" in state.flags else prompts.CLARIFY_OFFER
    return Reply(intent=reply["intent"], answer=localized(text, language), citations=[],
                 handoff=False, confidence=reply["confidence"])


def human_offer(language: str) -> list[Choice]:
    """The reply button that goes with a clarifying question or a redirect: a person, titled in
    the customer's language with words the human-request pattern routes when tapped or typed."""
    return make_choices([(HUMAN_CHOICE_ID, localized(prompts.HUMAN_BUTTON, language), "")])
