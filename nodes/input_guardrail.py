"""Input guardrail: redact PII before anything is stored, flag abuse and injection, rate-limit,
and open the turn (per-turn fields reset, state machine advanced)."""

from __future__ import annotations

from datetime import datetime, timedelta

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from graph import window
from graph.base import media_text, pii
from graph.base.language import detect_language
from graph.base.settings import Settings
from graph.context import Context
from graph.services import services_for
from graph.state import State, Status, Transition, move, remember_orders
from nodes import audit_notes, history_window, prompts
from nodes.checks import is_abusive, looks_like_injection, policy_topics
from nodes.common import say
from nodes.prompts_i18n import localized, reply_language

NOT_GUARDRAIL_FLAGS = ("csat_rating",)
"""Flags that mark a turn without a check having acted on it."""


def _new_texts(state: State, context: Context) -> list[tuple[str, str | None]]:
    """This turn's raw texts with the id of the state message they replace, if any.

    The server passes text in the context so it is never checkpointed unredacted; callers
    such as LangGraph Studio put it in `messages`, where it is redacted in place.
    """
    texts: list[tuple[str, str | None]] = [(t, None) for t in context.inbound if t.strip()]
    for message in state.messages:
        if isinstance(message, HumanMessage) and not message.additional_kwargs.get("guarded"):
            texts.append((message.text, message.id))
    return texts


async def input_guardrail(state: State, runtime: Runtime[Context]) -> dict:
    """Check and redact the customer's new messages, start the turn's state, flag abuse,
    injection and rate limits, and drop messages older than the retained window."""
    context = runtime.context or Context()
    settings = (await services_for(context)).settings
    update = _open_turn(state, context, settings)
    old = history_window.dropped(state.messages, settings.checkpoints.keep_messages)
    if not old:
        return update
    return {**update, "messages": [*old, *update.get("messages", [])],
            "earlier_messages": state.earlier_messages + len(old)}


def _open_turn(state: State, context: Context, settings: Settings) -> dict:
    now = context.clock()
    texts = _new_texts(state, context)
    update: dict = {"passages": Overwrite([]), "outbound": Overwrite([]), "choices": [],
                    "citations": [], "reply": None, "agent_steps": 0, "handoff_reason": None,
                    "flags": [], "silence": None}
    if state.status == "human":
        return {**update, "silence": "human_owns"}  # a human owns it: the bot stays silent
    if not texts:
        return {**update, "silence": "no_text"}

    flags: list[str] = []
    messages = []
    for raw, message_id in texts:
        redacted, kinds = pii.redact(raw)
        flags += [f"pii:{kind}" for kind in kinds if f"pii:{kind}" not in flags]
        if is_abusive(raw):
            flags.append("abuse")
        if looks_like_injection(raw):
            flags.append("injection")
        flags += [f"policy:{topic}" for topic in policy_topics(raw) if f"policy:{topic}" not in flags]
        messages.append(HumanMessage(redacted, id=message_id, additional_kwargs={"guarded": True}))
    if context.csat_score:
        flags.append("csat_rating")  # only a rating, stored by the server: thanked, not answered

    window_start = now - timedelta(seconds=settings.rate_limit_window_s)
    recent = [t for t in state.recent_message_times if datetime.fromisoformat(t) > window_start]
    recent += [now.isoformat()] * len(texts)
    if len(recent) > settings.rate_limit_messages:
        flags.append("rate_limited")

    status: Status = state.status
    transitions: list[Transition] = []
    if state.last_customer_at and not window.is_open(datetime.fromisoformat(state.last_customer_at), now):
        lapsed = move(status, "window_expired", now.isoformat())
        status, transitions = lapsed.get("status", status), lapsed.get("transitions", [])
        # A lapsed window means a new session: identity is checked again.
        update["verification"] = {"status": "unverified", "method": None, "attempts": 0,
                                  "locked_until": None}
        update["customer"] = None
    reopened = move(status, "customer_message", now.isoformat())
    update.update(
        messages=messages, flags=flags, turn=state.turn + 1, turn_key=context.turn_key, last_customer_at=now.isoformat(),
        recent_message_times=recent, cooldown=max(0, state.cooldown - 1),
        # "ok" or an order number says nothing of the language: the last one detected stays.
        language=detect_language(" ".join(t for t, _ in texts), default=state.language),
        order_refs=remember_orders(state.order_refs, pii.order_refs(" ".join(t for t, _ in texts))),
        status=reopened.get("status", status),
        transitions=transitions + reopened.get("transitions", []),
    )
    first_over_limit = len(recent) - len(texts) <= settings.rate_limit_messages
    language = reply_language(update["language"], settings.business.languages)
    if "rate_limited" in flags and first_over_limit:
        said = say(localized(prompts.RATE_LIMIT_REPLY, language))
        update["messages"] += said["messages"]
        update["outbound"] = Overwrite(said["outbound"])
    elif "rate_limited" in flags:
        update["silence"] = "rate_limited"  # told once; further messages in the window are not answered
    else:
        update.update(_unread_media(texts, flags, messages, language))
    acted = [flag for flag in update["flags"] if flag not in NOT_GUARDRAIL_FLAGS]
    audit_notes.note(context, audit_notes.guardrail(update["turn"], "input", acted))
    return update


def _unread_media(texts: list[tuple[str, str | None]], flags: list[str], messages: list,
                  language: str) -> dict:
    """Photos, documents or unheard voice notes in this turn: say plainly the bot cannot read
    them and offer a human. A turn of nothing but such media ends with that (the "media_only"
    flag); with words beside it, the notice goes first and the words are answered."""
    found = [media_text.unread_kind(raw) for raw, _ in texts]
    kinds = sorted({kind for kind, _ in filter(None, found)} - media_text.SILENT_KINDS)
    only_media = all(f is not None and not f[1] for f in found)
    if not kinds:
        return {"silence": "noise"} if only_media else {}  # stickers alone say no more than an emoji
    names = list(dict.fromkeys(localized(prompts.MEDIA_NAMES[kind], language) for kind in kinds))
    heard_only = set(kinds) <= media_text.HEARD_KINDS
    what = localized(prompts.MEDIA_OR, language).join(names)
    said = say(localized(prompts.VOICE_UNREAD, language) if heard_only
               else localized(prompts.MEDIA_UNREAD, language).format(what=what))
    flags = [*flags, *(f"media:{kind}" for kind in kinds), *(["media_only"] if only_media else [])]
    update = {"flags": flags, "outbound": Overwrite(said["outbound"])}
    return {**update, "messages": messages + said["messages"]} if only_media else update
