"""One conversation's turn: read its messages, run the graph, commit once.

Every turn commits, in one transaction, its replies (or handoff), its messages settled and a
turn record saying how it ended: that record, not LangGraph's progress, is what says a turn
is finished. The commit is fenced, so a worker that lost its lease commits nothing; and a
turn has a key, so re-running it after a crash continues the same LangGraph run and enqueues
replies under the same idempotency keys.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from graph.base import audit
from graph.base.conversation import phone_of, recipient_of
from graph.base.language import detect_language
from graph.base.settings import Settings
from graph.base.sql import Conn, Pool
from nodes.prompts_i18n import reply_language
from server import audit_events, checkpoints, outbox, tracing
from server.consent import first_contact
from server.conversation_ids import for_log
from server.conversations import Conversations, Turn
from server.desk.desk import Desk
from server.inbound import consent_turn, inbox, late_messages
from server.inbound.inbox import StoredMessage
from server.inbound.lease import Lease, LostLease, take_fence
from server.inbound.scheduler import Scheduler
from server.media import jobs as media_jobs
from server.metrics import HANDOFFS, label
from server.outbox.templates_catalog import catalog_for

log = logging.getLogger(__name__)
GIVE_UP_AFTER = 3
"""Failed attempts at one conversation's turn before it is handed to a human instead."""


class TurnRunner:
    """Runs one leased conversation's turn from its stored messages to its commit."""

    def __init__(self, pool: Pool, scheduler: Scheduler, conversations: Conversations,
                 settings: Settings, desk: Desk | None = None,
                 committed: Callable[[], None] | None = None):
        self.pool, self.scheduler, self.conversations, self.settings = (
            pool, scheduler, conversations, settings)
        self.desk = desk
        self.templates = desk.templates if desk else catalog_for(settings)
        """The window template, in the customer's language, comes from the template catalogue."""
        self.committed = committed
        """Called after a turn queued replies (the outbox sender in this process looks at once)."""

    async def _awaiting_voice(self, conn: Conn, key: str) -> bool:
        """A voice note of this conversation is still being transcribed: its turn waits for the
        words (at most MEDIA__TRANSCRIPT_WAIT_S; the fetcher makes it due when done). Asked
        before the messages are read, so the turn reads the transcript, not the placeholder."""
        wait_s = self.settings.media.transcript_wait_s
        if not (self.settings.transcribe.model and wait_s) or not await media_jobs.awaiting_transcript(
                conn, key, wait_s):
            return False
        await self.scheduler.mark_due(key, time.time() + 0.5)
        return True

    async def run(self, lease: Lease, give_up: bool = False) -> None:
        """Run the leased conversation's turn: a crashed turn first, else its new messages. In
        a `turn` span that continues the trace of the webhook that made it due."""
        key = lease.conversation_key
        parent = await tracing.recall(self.scheduler.redis, "due", key)
        with tracing.span("turn", [key], context=parent, attributes={"switchboard.fence": lease.fence}):
            # Its sends (the read receipt queued as it starts, the reply) continue this trace.
            await tracing.remember(self.scheduler.redis, "reply", [key])
            await self._run(lease, give_up)

    async def _run(self, lease: Lease, give_up: bool) -> None:
        key = lease.conversation_key
        desk = self.desk
        if desk:  # under this lease, the graph follows the desk row (server/desk/handback.py)
            await desk.follow(key)
        async with self.pool.connection() as conn:
            if await self._awaiting_voice(conn, key):
                return
            rows = await inbox.unfinished(conn, key)
            crashed = [r for r in rows if r.state == "in_turn"]
            if crashed:  # a worker died mid-turn: finish exactly that turn first
                batch = [r for r in crashed if r.turn_key == crashed[0].turn_key]
                if len(batch) < len(rows):  # newer messages wait for the next turn
                    await self.scheduler.mark_due(key, time.time())
                if await inbox.turn_recorded(conn, _turn_key(batch)):
                    await inbox.settle(conn, batch, "done")
                    return
            else:
                batch = await self._start_turn(conn, rows, lease, datetime.now(UTC))
                if not batch:
                    return
            consent = await consent_turn.plan(conn, key, batch)
        if consent.without_graph:  # STOP, or an opted-out customer: the bot does not answer
            await consent_turn.commit_without_graph(self, lease, consent, batch)
            return
        turn_key, now = _turn_key(batch), datetime.now(UTC)
        texts = consent.rest if consent.confirms_opt_in else [r.body for r in batch]
        if give_up:
            log.error("turn of %s (fence %s) failed %d times; handing the conversation to a human",
                      for_log(key), lease.fence, GIVE_UP_AFTER)
            turn = await self.conversations.give_up(key, "turn_failed")
        elif late_messages.is_late(batch, now, self.settings.stale_message_age_s):
            log.info("%d late message(s) for %s: handing them to a human", len(batch), for_log(key))
            turn = await late_messages.hand_over(self.conversations, self.desk, conversation=key,
                                                 batch=batch, turn_key=turn_key, now=now)
        else:
            should_yield = partial(desk.human_owns, key) if desk else None
            turn = await self.conversations.handle(key, *texts, turn_key=turn_key,
                                                   should_yield=should_yield)
        await self._commit(lease, turn, batch, consent)
        # Still under the lease: keep only the checkpoint the next turn resumes from.
        await checkpoints.after_turn(self.conversations, key, turn.state.get("turn"))

    async def _commit(self, lease: Lease, turn: Turn, batch: list[StoredMessage],
                      consent: consent_turn.Plan) -> None:
        key, customer, turn_key = lease.conversation_key, batch[0], _turn_key(batch)
        language = turn.state.get("language") or detect_language(" ".join(r.body for r in batch))
        confirm_in = (await consent_turn.language_of(self, key, consent)
                      if consent.confirms_opt_in else "en")
        async with self.pool.connection() as conn, conn.transaction():
            if not await take_fence(conn, key, lease.fence):
                raise LostLease(key)
            outcome = turn.outcome
            # Under the desk row's lock: may the bot's replies go out? (server/desk/bot_turns.py)
            if self.desk and not await self.desk.commit_turn(conn, turn, batch, key=key,
                                                             phone=phone_of(key)):
                turn.replies = []  # a human owns it now: the bot's reply is discarded (recorded)
                outcome = ("silent", "human_owns" if turn.held else "human_took_over")
            # The customer's opt-in (first message, START), its confirmation before any reply;
            # after the desk row's lock, as console sends take them (no deadlock).
            confirmed = await consent_turn.record(conn, self, key, consent, batch, confirm_in)
            if turn.replies:
                await outbox.enqueue_reply(
                    conn, conversation_key=key, recipient=recipient_of(key), provider=customer.provider,
                    # One WhatsApp message per turn, however many texts the graph produced.
                    texts=["\n\n".join(turn.replies)], idempotency_key=turn_key,
                    choices=turn.choices,  # as buttons or a list, with the last part
                    last_customer_at=late_messages.window_from(turn, batch), now=datetime.now(UTC),
                    window_template=self.templates.reengagement(reply_language(
                        turn.state.get("language"), self.settings.business.languages)),
                    introduction=first_contact.line(self.settings.business, language))
            # The turn's decisions exist exactly when the turn does (server/audit_events.py).
            await audit.record(conn, *audit_events.turn_events(turn, key=key, outcome=outcome))
            await inbox.record_turn(conn, turn_key=turn_key, conversation_key=key,
                                    outcome=outcome[0], reason=outcome[1], messages=len(batch),
                                    replies=len(turn.replies))
            await inbox.settle(conn, batch, "done")
        if outcome[0] == "handoff":
            HANDOFFS.labels(reason=label(outcome[1])).inc()
        if (turn.replies or confirmed) and self.committed:
            self.committed()

    async def _start_turn(self, conn, rows: list[StoredMessage], lease: Lease,
                          now: datetime) -> list[StoredMessage]:
        """Settle what needs no turn, then claim the rest under a new turn key (late messages
        too: they go to a human, see server/inbound/late_messages.py)."""
        oldest = late_messages.oldest_allowed(now, self.settings.stale_message_age_s)
        stale = [r for r in rows if r.sent_at < oldest and not r.needs_turn]
        quiet = [r for r in rows if r.sent_at >= oldest and not r.needs_turn]
        batch = [r for r in rows if r.needs_turn]
        turn_key = f"{lease.conversation_key}:{lease.fence}"
        # Each statement stands alone: a crash between them leaves nothing a re-run cannot
        # finish (claimed messages are the crashed turn's; the read receipt is cosmetic).
        if stale:
            log.info("recording %d stale message(s) that need no reply for %s", len(stale),
                     for_log(lease.conversation_key))
            await inbox.settle(conn, stale, "stale")
        await inbox.settle(conn, quiet, "skipped")
        if batch:
            await inbox.claim(conn, [r.id for r in batch], turn_key)
            # Read receipt and typing indicator as the turn starts.
            await outbox.enqueue_read_receipt(
                conn, provider=batch[-1].provider,
                recipient=recipient_of(lease.conversation_key),
                inbound_message_id=batch[-1].provider_message_id,
                conversation_key=lease.conversation_key)
        return [StoredMessage(**{**r.__dict__, "state": "in_turn", "turn_key": turn_key}) for r in batch]


def _turn_key(batch: list[StoredMessage]) -> str:
    """The key of the turn a claimed batch belongs to (inbox.claim sets it on every message)."""
    turn_key = batch[0].turn_key
    if turn_key is None:
        raise RuntimeError("a claimed message has no turn key")
    return turn_key
