"""Consent in a turn: STOP and START (server/consent/keywords.py), and customers who opted out,
handled where the turn starts, before the graph runs, so a STOP is never answered by the bot.

- STOP (the batch's last keyword): the customer is opted out, the replies queued before it
  are failed (server/outbox/opt_out.py) and a confirmation goes once, as the turn's reply; a
  STOP while already opted out is recorded and the turn is a deliberate silence. The graph
  does not run, whoever owns the conversation (a human too: the desk sees it, and the STOP is
  still confirmed). Other messages of the same batch are kept for agents, not answered.
- Any message of an opted-out customer but START: recorded and kept for agents, unanswered.
- START of an opted-out customer: opted back in and confirmed once; messages sent with it
  go to the graph as usual, after the confirmation. START of anyone else is recorded and
  answered by the bot like any message.
- Every other turn records the customer's first message as their opt-in (store.note_inbound).

Confirmations go only inside the 24-hour window (a late STOP is recorded, not confirmed: a
template would say something else), and in the keyword's language when only one language
uses it, else the conversation's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from graph import window
from graph.base.conversation import ConversationId, recipient_of
from graph.base.sql import Conn
from nodes import prompts
from nodes.prompts_i18n import localized, reply_language
from server import outbox
from server.consent import Action, Keyword, last_keyword, store
from server.conversation_ids import for_log
from server.inbound import inbox
from server.inbound.inbox import StoredMessage
from server.inbound.lease import Lease, LostLease, take_fence
from server.metrics import OPT_OUTS
from server.outbox import opt_out

if TYPE_CHECKING:
    from server.inbound.turn import TurnRunner

log = logging.getLogger(__name__)
CONFIRMATIONS = {Action.OPT_OUT: prompts.OPT_OUT_CONFIRMED, Action.OPT_IN: prompts.OPT_IN_CONFIRMED}


@dataclass(frozen=True)
class Plan:
    """What consent asks of a turn: the batch's last keyword, its other messages, and whether
    the customer had opted out before it."""

    keyword: Keyword | None
    rest: list[str]
    opted_out: bool

    @property
    def action(self) -> Action | None:
        return self.keyword.action if self.keyword else None

    @property
    def without_graph(self) -> bool:
        """A STOP, an opted-out customer's message, or an opted-out customer's bare START:
        the turn commits here and the graph does not run."""
        if self.action is Action.OPT_OUT:
            return True
        if self.opted_out:
            return self.action is None or not self.rest
        return False

    @property
    def confirms_opt_in(self) -> bool:
        return self.action is Action.OPT_IN and self.opted_out


async def plan(conn: Conn, key: str, batch: list[StoredMessage]) -> Plan:
    """Read the batch for keywords and the customer's consent (one indexed read)."""
    keyword, rest = last_keyword([m.body for m in batch])
    return Plan(keyword, rest, await store.is_opted_out(conn, key))


async def language_of(runner: TurnRunner, key: str, plan: Plan) -> str:
    """The confirmation's language: the keyword's own, else the conversation's."""
    business = runner.settings.business
    if plan.keyword and plan.keyword.language:
        return reply_language(plan.keyword.language, business.languages)
    return await runner.conversations.language(ConversationId(key))


async def record(conn: Conn, runner: TurnRunner, key: str, plan: Plan,
                 batch: list[StoredMessage], language: str) -> bool:
    """In a turn's commit: record the consent its messages give (a first message's opt-in,
    STOP, START) and queue the confirmation when one is due; True when it queued one."""
    now = datetime.now(UTC)
    newest = max(m.sent_at for m in batch)
    if plan.keyword is None:
        if not plan.opted_out:
            await store.note_inbound(conn, key, batch[0].sent_at)
        return False
    record_change = store.record_opt_out if plan.action is Action.OPT_OUT else store.record_opt_in
    changed = await record_change(conn, key, source=store.KEYWORD, actor="customer",
                                  keyword=plan.keyword.word, at=newest)
    if changed:
        log.info("%s %s by keyword", for_log(key), "opted out" if plan.action is Action.OPT_OUT
                 else "opted in")
        if plan.action is Action.OPT_OUT:
            OPT_OUTS.inc()
    if plan.action is Action.OPT_OUT:
        await opt_out.refuse(conn, now, key)  # replies queued before the STOP
    confirm = changed and (plan.action is Action.OPT_OUT or plan.opted_out) and window.is_open(
        newest, now)
    if confirm:
        text = prompts.fill(localized(CONFIRMATIONS[plan.keyword.action], language),
                            runner.settings.business)
        await outbox.enqueue_reply(
            conn, conversation_key=key, recipient=recipient_of(ConversationId(key)), provider=batch[-1].provider,
            texts=[text], idempotency_key=f"{batch[0].turn_key}:consent",
            last_customer_at=newest, now=now, window_template={}, consent_notice=True)
    if runner.desk and (plan.action is Action.OPT_OUT or plan.opted_out):
        await runner.desk.consent_changed(
            conn, key=key, provider=batch[-1].provider, kind=plan.keyword.action.value,
            keyword=plan.keyword.word, customer_at=newest,
            confirmed=confirm, reason=_desk_reason(plan, changed),
            texts=plan.rest if plan.without_graph else ())
    return confirm


async def commit_without_graph(runner: TurnRunner, lease: Lease, plan: Plan,
                               batch: list[StoredMessage]) -> None:
    """Commit a turn the graph does not run: the consent recorded, the confirmation (if any)
    as its reply, else a deliberate silence ('opted_out'); its messages settled."""
    key, turn_key = lease.conversation_key, batch[0].turn_key or ""
    language = await language_of(runner, key, plan)
    async with runner.pool.connection() as conn, conn.transaction():
        if not await take_fence(conn, key, lease.fence):
            raise LostLease(key)
        if runner.desk:  # the desk row first, then consent: the order console sends take them
            await runner.desk.lock(conn, key)
        if plan.keyword is None:  # an opted-out customer wrote: agents see it, the bot is quiet
            confirmed = False
            if runner.desk:
                await runner.desk.consent_changed(
                    conn, key=key, provider=batch[-1].provider, kind="opted_out_message",
                    keyword=None, confirmed=False, reason=_desk_reason(plan, False),
                    customer_at=max(m.sent_at for m in batch), texts=plan.rest)
        else:
            confirmed = await record(conn, runner, key, plan, batch, language)
        await inbox.record_turn(conn, turn_key=turn_key, conversation_key=key,
                                outcome="replied" if confirmed else "silent",
                                reason=None if confirmed else "opted_out",
                                messages=len(batch), replies=int(confirmed))
        await inbox.settle(conn, batch, "done")
    if confirmed and runner.committed:
        runner.committed()


def _desk_reason(plan: Plan, changed: bool) -> str:
    if plan.action is Action.OPT_OUT:
        return "opted out (STOP)" if changed else "sent STOP again while opted out"
    if plan.action is Action.OPT_IN:
        return "opted back in (START)"
    return "wrote while opted out: the bot does not answer until they send START"
