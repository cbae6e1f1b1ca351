"""Run customer turns through the graph, and hand paused conversations back from humans.

This is the one entry point for every channel (terminal, webhooks, tests): identity and raw
text go into the run context, replies come out of `outbound`, and while a human owns the
conversation the graph is not run at all.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from graph.base import pii
from graph.base.sql import Pool
from graph.context import Context
from graph.services import Services
from graph.state import Handoff, InputState, State
from nodes import prompts
from nodes.await_human import HumanOutcome
from server.conversation_ids import for_log
from server.desk import csat

log = logging.getLogger(__name__)


@dataclass
class Turn:
    """What one customer turn produced."""

    replies: list[str]
    """Texts to send to the customer, in order."""
    handoff: Handoff | None = None
    """The handoff payload while a human owns the conversation."""
    held: bool = False
    """True when the message went to the human queue instead of the bot."""
    silence: str | None = None
    """Why the bot deliberately said nothing (see State.silence)."""
    rating: int | None = None
    """The CSAT score when the turn was only a rating (thanked, not answered)."""
    state: dict[str, Any] = field(default_factory=dict)

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


def thread_id(phone: str) -> str:
    """One LangGraph thread per WhatsApp number."""
    return f"wa:{phone}"


class Conversations:
    """Runs graph turns per WhatsApp number and keeps what a turn needs besides the graph (held
    messages)."""

    def __init__(self, graph: CompiledStateGraph[State, Context, InputState, State],
                 services: Services, pool: Pool):
        self.graph, self.services, self.pool = graph, services, pool
        self.durability = services.settings.turn_durability

    def _config(self, phone: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id(phone)}}

    async def pending_handoff(self, phone: str) -> Handoff | None:
        """The handoff payload if the conversation is paused for a human."""
        snapshot = await self.graph.aget_state(self._config(phone))
        return snapshot.interrupts[0].value if snapshot.interrupts else None

    async def handle(self, phone: str, *texts: str, now: str | None = None,
                     turn_key: str | None = None,
                     should_yield: Callable[[], Awaitable[bool]] | None = None) -> Turn:
        """Run one turn for the customer's message(s); rapid messages come bundled in one call.

        With a `turn_key`, running the same turn again is safe: a run that crashed midway is
        continued from its last checkpoint (or run again from its start when nothing of it was
        saved), and a finished one is not run twice. Every turn ends in replies, a handoff or a
        silence with its reason: a run that produced none of them is handed to a human.
        """
        if not texts or not any(t.strip() for t in texts):
            raise ValueError("a turn needs at least one non-empty message")
        config = self._config(phone)
        snapshot = await self.graph.aget_state(config)
        context = Context(phone=phone, inbound=list(texts), now=now, turn_key=turn_key,
                          should_yield=should_yield, services=self.services)
        if turn_key and snapshot.values.get("turn_key") == turn_key:  # this turn ran before
            if snapshot.interrupts:  # it ended in a handoff
                return self._turn({**snapshot.values, "__interrupt__": snapshot.interrupts})
            # Not `snapshot.next`: a run cut off after a step saved its writes but before its
            # checkpoint shows no next step. Continuing finishes it; a finished run returns as is.
            return await self._answered(phone, await self._run(None, config, context))
        if snapshot.interrupts:
            await self._hold(phone, texts, turn_key)
            return Turn(replies=[], handoff=snapshot.interrupts[0].value, held=True)
        async with self.pool.connection() as conn:  # a reply to a CSAT prompt is stored, not answered
            rating = await csat.take_reply(conn, phone, texts, context.clock())
        context.csat_score = rating.score if rating and rating.pure else None
        turn = await self._answered(phone, await self._run({"messages": []}, config, context))
        turn.rating = context.csat_score
        return turn

    async def _run(self, graph_input: Any, config: RunnableConfig, context: Context) -> dict[str, Any]:
        return await self.graph.ainvoke(graph_input, config, context=context,
                                        durability=self.durability)

    async def _answered(self, phone: str, result: dict[str, Any]) -> Turn:
        turn = self._turn(result)
        if turn.replies or turn.handoff or turn.silence:
            return turn
        log.error("turn of %s ended with no reply, handoff or reason; handing it to a human",
                  for_log(phone))  # the turn key starts with the phone number
        return await self.give_up(phone, [], None, "no_reply")

    async def give_up(self, phone: str, texts: list[str], turn_key: str | None, reason: str) -> Turn:
        """Hand a turn the bot could not finish to a human: the graph pauses, the customer's
        unread messages wait for the human, and the customer is told."""
        handoff = await self.take_over(phone, reason)
        await self._hold(phone, texts, turn_key)
        return Turn(replies=[prompts.SAFE_FALLBACK], handoff=handoff, held=True)

    async def _hold(self, phone: str, texts: list[str] | tuple[str, ...], turn_key: str | None) -> None:
        """Keep messages for the human who owns the conversation (redacted, like the transcript)."""
        async with self.pool.connection() as conn:
            for i, text in enumerate(texts):
                await conn.execute(
                    "INSERT INTO held_messages (thread_id, body, source_key) VALUES (%s, %s, %s)"
                    " ON CONFLICT (source_key) DO NOTHING",
                    (thread_id(phone), pii.redact(text)[0], f"{turn_key}:{i}" if turn_key else None))

    @staticmethod
    def _turn(result: dict[str, Any]) -> Turn:
        interrupts = result.get("__interrupt__") or ()
        return Turn(replies=list(result.get("outbound", [])),
                    handoff=interrupts[0].value if interrupts else None,
                    silence=result.get("silence"), state=result)

    async def resume(self, phone: str, outcome: HumanOutcome | dict, now: str | None = None) -> Turn:
        """Hand a paused conversation back (or close it) with the human's outcome."""
        outcome = _redacted(HumanOutcome.model_validate(outcome))
        if not await self.pending_handoff(phone):
            raise LookupError(f"conversation {thread_id(phone)} is not waiting for a human")
        async with self.pool.connection() as conn, conn.transaction():
            rows = await (await conn.execute(
                "DELETE FROM held_messages WHERE thread_id = %s RETURNING id, body",
                (thread_id(phone),))).fetchall()
            held = [r["body"] for r in sorted(rows, key=lambda r: r["id"])]
            if not outcome.exchange:  # the desk passes the ordered exchange, held messages included
                outcome = outcome.model_copy(
                    update={"customer_messages": [*held, *outcome.customer_messages]})
            context = Context(phone=phone, now=now, services=self.services)
            result = await self._run(Command(resume=outcome.model_dump()), self._config(phone),
                                     context)
        return Turn(replies=list(result.get("outbound", [])), state=result)

    async def take_over(self, phone: str, reason: str, agent: str | None = None) -> Handoff:
        """Pause a conversation the bot owns because a human took it over: the graph goes to
        `await_human` as if it had handed off itself. Returns the handoff payload."""
        config = self._config(phone)
        snapshot = await self.graph.aget_state(config)
        if snapshot.interrupts:
            return snapshot.interrupts[0].value
        payload: Handoff = {"reference": f"T-{phone[-4:]}-{snapshot.values.get('turn', 0)}", "reason": reason,
                   "priority": "normal", "summary": f"Taken over by {agent or 'a human'}",
                   "intent": snapshot.values.get("intent"), "customer": snapshot.values.get("customer"),
                   "order_refs": snapshot.values.get("order_refs", [])}
        await self.graph.aupdate_state(config, {"handoff": payload, "handoff_reason": reason,
                                                "status": "human"}, as_node="handoff")
        result = await self._run(None, config, Context(phone=phone, services=self.services))
        return result["__interrupt__"][0].value

    async def forget(self, phone: str) -> None:
        """Delete the conversation: checkpoints, held messages and CSAT ratings (erasure
        requests, `switchboard chat --new`, tests)."""
        saver = self.graph.checkpointer
        if not isinstance(saver, BaseCheckpointSaver):  # the server's graph always has one
            raise RuntimeError("the graph has no checkpointer to forget the conversation from")
        await saver.adelete_thread(thread_id(phone))
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM held_messages WHERE thread_id = %s", (thread_id(phone),))
            await conn.execute("DELETE FROM desk_csat WHERE conversation_key = %s", (phone,))

    async def state(self, phone: str) -> dict[str, Any]:
        return (await self.graph.aget_state(self._config(phone))).values


def _redacted(outcome: HumanOutcome) -> HumanOutcome:
    """The outcome with what people wrote redacted: a resume value is checkpointed as given."""
    def clean(text: str) -> str:
        return pii.redact(text)[0]
    return outcome.model_copy(update={
        "notes": clean(outcome.notes),
        "customer_messages": [clean(t) for t in outcome.customer_messages],
        "agent_messages": [clean(t) for t in outcome.agent_messages],
        "exchange": [{**item, "text": clean(item.get("text", ""))} for item in outcome.exchange]})
