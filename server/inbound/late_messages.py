"""Late messages: a customer message that reaches us long after it was sent is answered by a
human, never by the bot as if it were fresh (its answer could be stale by now).

After an outage Meta retries a webhook for up to 7 days. A turn whose messages include one
sent more than STALE_MESSAGE_AGE_S before the turn started is handed to the human queue with
all of its messages (fresh ones may follow from the late ones), reason "late_message" and how
late. The graph is paused as for any handoff, the messages are held for the human (redacted)
and shown in the console, and the customer is told once per handoff that a colleague will
reply: free text while their last message is inside WhatsApp's 24-hour window, else the
approved window template (the outbox applies that rule to the time this module reports).
More late messages while a human owns the conversation join it silently: one handoff, one
apology. Messages that need no turn (reactions, read-only kinds) are only recorded, as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from graph.base.conversation import ConversationId
from graph.base.pii import redact
from graph.base.sql import Conn
from graph.state import Handoff
from nodes import prompts
from nodes.prompts_i18n import localized
from server.conversations import Conversations, Turn
from server.inbound.inbox import StoredMessage

if TYPE_CHECKING:
    from server.desk.desk import Desk

REASON = "late_message"
MARK: Final = "late"
"""The key of the lateness facts in a late turn's handoff payload (only this module sets it)."""
PREVIEW_CHARS = 300


def oldest_allowed(now: datetime, max_age_s: float) -> datetime:
    """A message sent before this is late when it reaches a turn."""
    return now - timedelta(seconds=max_age_s)


def is_late(batch: Sequence[StoredMessage], now: datetime, max_age_s: float) -> bool:
    """Does this turn's batch hold a message sent too long ago to be answered by the bot?
    (Decided again from the messages' own times when a crashed turn is run again: a batch that
    was late stays late.)"""
    return any(m.sent_at < oldest_allowed(now, max_age_s) for m in batch)


def is_late_turn(turn: Turn) -> bool:
    """Whether the turn handed a late batch to a human (it carries the lateness facts)."""
    return turn.handoff is not None and isinstance(turn.handoff.get(MARK), dict)


def _facts(turn: Turn) -> dict[str, Any]:
    """The lateness facts of a late turn (see is_late_turn); any other turn is a caller's bug."""
    facts = turn.handoff.get(MARK) if turn.handoff else None
    if not isinstance(facts, dict):
        raise ValueError("not a late turn")
    return facts


def how_late(delay: timedelta) -> str:
    """'26 hours', '3 days': how long a message took to reach us, in words (rounded down)."""
    hours = int(delay.total_seconds() // 3600)
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours // 24} days"


async def hand_over(conversations: Conversations, desk: Desk | None, *,
                    conversation: ConversationId,
                    batch: Sequence[StoredMessage], turn_key: str, now: datetime) -> Turn:
    """The turn for a late batch: the graph paused for a human (idempotent, so a crashed turn
    can run this again), the texts held for them, and the handoff payload with the SLA plan."""
    paused = await conversations.give_up(conversation, REASON)
    oldest = min(m.sent_at for m in batch)
    delay = now - oldest
    graph_payload = paused.handoff
    if graph_payload is None:  # give_up always leaves the graph paused with its payload
        raise RuntimeError("the graph did not pause for a human")
    customer = graph_payload.get("customer")
    payload: Handoff = {
        **graph_payload, "reason": REASON, "mode": "cold", "eta": "as soon as they can",
        "reference": "L-" + hashlib.sha1(turn_key.encode()).hexdigest()[:6].upper(),
        "summary": _summary(batch, delay),
        MARK: {"messages": len(batch), "sent_at": oldest.isoformat(),
               "late_by_s": int(delay.total_seconds())}}
    if desk is not None:  # SLA due times, priority (late_message is high) and the promise
        payload.update(await desk.planner.plan(tier=(customer.get("tier") if customer else None) or "retail",
                                       topic=graph_payload.get("intent") or "other",
                                       reason=REASON, now=now))
    language = await conversations.language(conversation, *(m.body for m in batch))
    reply = localized(prompts.LATE_APOLOGY, language).format(eta=payload["eta"], ticket=payload["reference"])
    # The language also picks the window template when the apology cannot go as text.
    return Turn(replies=[reply], handoff=payload, held=True, state={"language": language})


async def record(conn: Conn, desk: Desk, *, key: str, before: dict[str, Any] | None,
                 batch: Sequence[StoredMessage], turn: Turn, now: datetime, opened: bool) -> None:
    """In the worker's commit, under the desk row's lock: note the late arrival for the agents
    and keep the desk row's last_customer_at the customer's real last message (the 24-hour
    window runs from when they wrote, not from when their message reached us)."""
    facts = _facts(turn)
    newest = max(m.sent_at for m in batch)
    previous = before["last_customer_at"] if before else None
    last = max(newest, previous) if previous else newest
    facts["customer_last_at"] = last
    await desk.set_last_customer_at(conn, key, last)
    await desk.event(conn, key, "system", REASON, reason=(
        f"{facts['messages']} message(s) reached us late, the oldest sent "
        f"{how_late(timedelta(seconds=facts['late_by_s']))} earlier"),
        payload={**{k: v for k, v in facts.items() if k != "customer_last_at"},
                 "opened_handoff": opened})


def window_from(turn: Turn, batch: Sequence[StoredMessage]) -> datetime:
    """When the customer last wrote, for the outbox's 24-hour window rule."""
    newest = max(m.sent_at for m in batch)
    if is_late_turn(turn):
        return _facts(turn).get("customer_last_at") or newest
    return newest


def _summary(batch: Sequence[StoredMessage], delay: timedelta) -> str:
    preview = redact(" / ".join(m.body for m in batch))[0][:PREVIEW_CHARS]
    count = f"{len(batch)} messages" if len(batch) > 1 else "A message"
    return (f"{count} reached us late (the oldest sent {how_late(delay)} earlier): the bot did"
            f" not answer. The customer wrote: {preview}")
