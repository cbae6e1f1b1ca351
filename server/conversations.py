"""Run customer turns through the graph, and hand paused conversations back from humans.

This is the one entry point for every channel (terminal, webhooks, tests): a conversation is
named by its id (graph/base/conversation.py), from which the run context gets the id and the
real phone number apart; raw text goes into the run context, replies come out of `outbound`,
and while a human owns the conversation the graph is not run at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from graph.base import pii
from graph.base.audit import AuditEvent
from graph.base.conversation import ConversationId, phone_of
from graph.base.language import detect_language
from graph.base.sql import Pool
from graph.context import Context
from graph.services import Services
from graph.state import Choice, Handoff, InputState, State
from nodes import prompts
from nodes.await_human import HumanOutcome
from nodes.prompts_i18n import localized, reply_language
from server.conversation_ids import for_log, ref, thread_id
from server.desk import csat, events
from server.graph_observer import TurnObserver
from server.metrics import MODEL_FALLBACKS, TURN_SECONDS, label

log = logging.getLogger(__name__)


@dataclass
class Turn:
    """What one customer turn produced."""

    replies: list[str]
    """Texts to send to the customer, in order."""
    choices: list[Choice] = field(default_factory=list)
    """Options offered with the replies as reply buttons or a list (State.choices)."""
    handoff: Handoff | None = None
    """The handoff payload while a human owns the conversation."""
    held: bool = False
    """True when the message went to the human queue instead of the bot."""
    silence: str | None = None
    """Why the bot deliberately said nothing (see State.silence)."""
    rating: int | None = None
    """The CSAT score when the turn was only a rating (thanked, not answered)."""
    state: dict[str, Any] = field(default_factory=dict)
    decisions: list[AuditEvent] = field(default_factory=list)
    """The run's decisions for the audit trail (Context.decisions), written with the turn."""

    @property
    def outcome(self) -> tuple[Literal["replied", "handoff", "silent"], str | None]:
        """How the turn ended, as the turn record keeps it: (outcome, reason)."""
        if self.held and not self.replies:
            return "silent", "human_owns"
        if self.handoff:
            return "handoff", self.handoff.get("reason")
        if self.replies:
            return "replied", None
        return "silent", self.silence


class Conversations:
    """Runs graph turns per conversation (one LangGraph thread each, `thread_id`) and hands
    paused ones back from humans."""

    def __init__(self, graph: CompiledStateGraph[State, Context, InputState, State],
                 services: Services, pool: Pool):
        self.graph, self.services, self.pool = graph, services, pool
        self.durability = services.settings.turn_durability

    @staticmethod
    def _config(conversation: ConversationId) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id(conversation)}}

    def _context(self, conversation: ConversationId, **values: Any) -> Context:
        """The run context: the id, and the real number apart from it (None for a BSUID)."""
        return Context(conversation_id=conversation, phone=phone_of(conversation),
                       conversation_ref=ref(conversation), services=self.services, **values)

    async def pending_handoff(self, conversation: ConversationId) -> Handoff | None:
        """The handoff payload if the conversation is paused for a human."""
        snapshot = await self.graph.aget_state(self._config(conversation))
        return snapshot.interrupts[0].value if snapshot.interrupts else None

    async def handle(self, conversation: ConversationId, *texts: str, now: str | None = None,
                     turn_key: str | None = None,
                     should_yield: Callable[[], Awaitable[bool]] | None = None) -> Turn:
        """Run one turn for the customer's message(s); rapid messages come bundled in one call.

        With a `turn_key`, running the same turn again is safe: a run that crashed midway is
        continued from its last checkpoint (or run again from its start when nothing of it was
        saved), and a finished one is not run twice. Every turn ends in replies, a handoff or a
        silence with its reason: a run that produced none of them is handed to a human. While
        the conversation is paused for a human nothing runs: the turn comes back `held`, and
        whoever runs it keeps the texts for the human (the server's desk: `Desk.note_customer`).
        """
        if not texts or not any(t.strip() for t in texts):
            raise ValueError("a turn needs at least one non-empty message")
        config = self._config(conversation)
        snapshot = await self.graph.aget_state(config)
        context = self._context(conversation, inbound=list(texts), now=now, turn_key=turn_key,
                                should_yield=should_yield)
        if turn_key and snapshot.values.get("turn_key") == turn_key:  # this turn ran before
            if snapshot.interrupts:  # it ended in a handoff
                return self._turn({**snapshot.values, "__interrupt__": snapshot.interrupts})
            # Not `snapshot.next`: a run cut off after a step saved its writes but before its
            # checkpoint shows no next step. Continuing finishes it; a finished run returns as is.
            turn = await self._answered(conversation, await self._timed(None, config, context,
                                                                        snapshot.values))
            turn.decisions = context.decisions  # those of the part that ran again
            return turn
        if snapshot.interrupts:
            return Turn(replies=[], handoff=snapshot.interrupts[0].value, held=True)
        async with self.pool.connection() as conn:  # a reply to a CSAT prompt is stored, not answered
            rating = await csat.take_reply(conn, conversation, texts, context.clock())
        context.csat_score = rating.score if rating and rating.pure else None
        turn = await self._answered(conversation, await self._timed(
            {"messages": []}, config, context, snapshot.values))
        turn.rating = context.csat_score
        turn.decisions = context.decisions
        return turn

    async def _run(self, graph_input: Any, config: RunnableConfig, context: Context,
                   observer: TurnObserver | None = None) -> dict[str, Any]:
        """Run the graph, observed: spans for its nodes, model and tool calls (the observer is
        added to the callbacks; LangSmith's tracer, when configured, still runs beside it)."""
        observer = observer or self._observer(context.conversation_id)
        return await self.graph.ainvoke(graph_input, {**config, "callbacks": [observer]},
                                        context=context, durability=self.durability)

    def _observer(self, conversation: ConversationId | None) -> TurnObserver:
        services = self.services
        return TurnObserver(conversation, offline_only=(
            services.router_model is services.fallback_model
            and services.agent_model is services.fallback_model))

    async def _timed(self, graph_input: Any, config: RunnableConfig, context: Context,
                     before: dict[str, Any]) -> dict[str, Any]:
        """A customer turn's run, timed by brain, its fallbacks counted by reason (those the
        state gained over `before`, the values it started from)."""
        observer, started = self._observer(context.conversation_id), time.perf_counter()
        result = await self._run(graph_input, config, context, observer)
        TURN_SECONDS.labels(brain=observer.brain).observe(time.perf_counter() - started)
        for fallback in result.get("fallbacks", [])[len(before.get("fallbacks", [])):]:
            MODEL_FALLBACKS.labels(reason=label(fallback.rpartition(": ")[2])).inc()
        return result

    async def _answered(self, conversation: ConversationId, result: dict[str, Any]) -> Turn:
        turn = self._turn(result)
        if turn.replies or turn.handoff or turn.silence:
            return turn
        log.error("turn of %s ended with no reply, handoff or reason; handing it to a human",
                  for_log(conversation))
        return await self.give_up(conversation, "no_reply")

    async def give_up(self, conversation: ConversationId, reason: str) -> Turn:
        """Hand a turn the bot could not finish to a human: the graph pauses and the customer is
        told. The turn comes back `held`: its messages wait for the human like any message
        written while a human owns the conversation."""
        handoff = await self.take_over(conversation, reason)
        language = await self.language(conversation)
        return Turn(replies=[localized(prompts.SAFE_FALLBACK, language)], handoff=handoff, held=True)

    @staticmethod
    def _turn(result: dict[str, Any]) -> Turn:
        interrupts = result.get("__interrupt__") or ()
        return Turn(replies=list(result.get("outbound", [])),
                    choices=list(result.get("choices") or []),
                    handoff=interrupts[0].value if interrupts else None,
                    silence=result.get("silence"), state=result)

    async def resume(self, conversation: ConversationId, outcome: HumanOutcome | dict,
                     now: str | None = None) -> Turn:
        """Hand a paused conversation back (or close it) with the human's outcome.

        The desk passes the whole exchange since the handoff, in order. Without one (the
        terminal chat, tests), the customer's messages held since the handoff are read from
        the desk's event log and come first."""
        outcome = _redacted(HumanOutcome.model_validate(outcome))
        if not await self.pending_handoff(conversation):
            raise LookupError(f"conversation {for_log(conversation)} is not waiting for a human")
        if not outcome.exchange:
            async with self.pool.connection() as conn:
                exchange = await events.exchange_since_handoff(conn, conversation)
            held = [item["text"] for item in exchange if item["from"] == "customer"]
            outcome = outcome.model_copy(
                update={"customer_messages": [*held, *outcome.customer_messages]})
        result = await self._run(Command(resume=outcome.model_dump()), self._config(conversation),
                                 self._context(conversation, now=now))
        return Turn(replies=list(result.get("outbound", [])), state=result)

    async def take_over(self, conversation: ConversationId, reason: str,
                        agent: str | None = None) -> Handoff:
        """Pause a conversation the bot owns because a human took it over: the graph goes to
        `await_human` as if it had handed off itself. Returns the handoff payload."""
        config = self._config(conversation)
        snapshot = await self.graph.aget_state(config)
        if snapshot.interrupts:
            return snapshot.interrupts[0].value
        reference = f"T-{conversation[-4:]}-{snapshot.values.get('turn', 0)}"
        payload: Handoff = {"reference": reference, "reason": reason, "priority": "normal",
                            "summary": f"Taken over by {agent or 'a human'}",
                            "intent": snapshot.values.get("intent"),
                            "customer": snapshot.values.get("customer"),
                            "order_refs": snapshot.values.get("order_refs", [])}
        await self.graph.aupdate_state(config, {"handoff": payload, "handoff_reason": reason,
                                                "status": "human"}, as_node="handoff")
        result = await self._run(None, config, self._context(conversation))
        return result["__interrupt__"][0].value

    async def forget(self, conversation: ConversationId) -> None:
        """Delete the conversation: checkpoints and CSAT ratings (erasure requests,
        `switchboard chat --new`, tests)."""
        saver = self.graph.checkpointer
        if not isinstance(saver, BaseCheckpointSaver):  # the server's graph always has one
            raise RuntimeError("the graph has no checkpointer to forget the conversation from")
        await saver.adelete_thread(thread_id(conversation))
        async with self.pool.connection() as conn:
            await csat.forget(conn, conversation)

    async def state(self, conversation: ConversationId) -> dict[str, Any]:
        """The conversation's graph state (empty before its first turn)."""
        return (await self.graph.aget_state(self._config(conversation))).values

    async def language(self, conversation: ConversationId, *texts: str) -> str:
        """The language for a canned text the server sends itself (a late apology, a fallback).

        Args:
            conversation: whose checkpointed state holds the language detected last.
            texts: the customer's new messages, not yet seen by the graph, if any.

        Returns:
            `texts`' language, else the conversation's, else English; limited to the
            business's languages as the graph's own canned replies are.
        """
        known = (await self.state(conversation)).get("language")
        detected = detect_language(" ".join(texts), default=known) if texts else known
        return reply_language(detected, self.services.settings.business.languages)


def _redacted(outcome: HumanOutcome) -> HumanOutcome:
    """The outcome with what people wrote redacted: a resume value is checkpointed as given."""
    def clean(text: str) -> str:
        return pii.redact(text)[0]
    return outcome.model_copy(update={
        "notes": clean(outcome.notes),
        "customer_messages": [clean(t) for t in outcome.customer_messages],
        "agent_messages": [clean(t) for t in outcome.agent_messages],
        "exchange": [{**item, "text": clean(item.get("text", ""))} for item in outcome.exchange]})
