"""Bounded checkpoint storage: each conversation keeps only the checkpoint it resumes from.

LangGraph saves a checkpoint per turn (per step with TURN_DURABILITY async/sync) and keeps
them all; each holds the whole state, so a conversation's storage grew with the square of its
turns. Resuming needs only the latest: it holds the state, a pending handoff's interrupt and
the writes of a turn cut off midway. So after each committed turn the thread is pruned with
LangGraph's own `aprune(strategy="keep_latest")` (`after_turn`), and the daily prune does the
same for every thread that has more than one (`prune_checkpoint_history`). What one checkpoint
holds is bounded in the graph: the transcript's window (nodes/history_window.py) and the
capped lists of graph/state.py.

The one read of LangGraph's tables outside LangGraph is here: which threads have older
checkpoints to prune (the saver has no listing of threads). Deleting is LangGraph's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from langgraph.checkpoint.base import BaseCheckpointSaver

from graph.base.conversation import ConversationId
from graph.base.sql import Pool
from server.conversation_ids import for_log, thread_id
from server.conversations import Conversations

log = logging.getLogger(__name__)

STRATEGY = "keep_latest"
"""LangGraph's prune strategy: the latest checkpoint of each namespace, with its writes."""

_THREADS_WITH_HISTORY = (
    "SELECT thread_id FROM checkpoints WHERE checkpoint_ns = '' GROUP BY thread_id"
    " HAVING count(*) > 1 ORDER BY thread_id")


@dataclass(frozen=True)
class Pruned:
    """What one prune of checkpoint history did."""

    threads: int
    """Threads pruned down to their latest checkpoint."""
    failed: int
    """Threads left as they were (a turn saved meanwhile, or Postgres refused); the next prune
    takes them."""


def saver_of(conversations: Conversations) -> BaseCheckpointSaver:
    """The checkpointer the conversations' graph saves with."""
    saver = conversations.graph.checkpointer
    if not isinstance(saver, BaseCheckpointSaver):  # the server's graph always has one
        raise RuntimeError("the graph has no checkpointer to prune")
    return saver


async def after_turn(conversations: Conversations, conversation: ConversationId,
                     turn: int | None = None) -> None:
    """Prune the conversation's thread to its latest checkpoint after a committed turn
    (CHECKPOINTS__PRUNE_AFTER_TURN), every CHECKPOINTS__PRUNE_EVERY_TURNS turns (`turn` is the
    conversation's turn number; None prunes). Called under the turn's lease, so no run of this
    thread saves meanwhile; a failure leaves the history for the next turn or the daily prune."""
    settings = conversations.services.settings.checkpoints
    if not settings.prune_after_turn or (turn is not None and turn % settings.prune_every_turns):
        return
    try:
        await saver_of(conversations).aprune([thread_id(conversation)], strategy=STRATEGY)
    except psycopg.Error as error:
        log.warning("checkpoint history of %s not pruned (%s); the next prune takes it",
                    for_log(conversation), type(error).__name__)


async def threads_with_history(pool: Pool) -> list[str]:
    """Threads with more than one checkpoint: those a prune would shrink."""
    async with pool.connection() as conn:
        return [row["thread_id"] for row in await (await conn.execute(_THREADS_WITH_HISTORY)).fetchall()]


async def prune_checkpoint_history(saver: BaseCheckpointSaver, pool: Pool,
                                   threads: Sequence[str] | None = None) -> Pruned:
    """Prune every thread (or `threads`) to its latest checkpoint, for the daily prune
    (server/privacy/prune.py).

    Each thread is pruned in its own transaction, so one that a live turn changes meanwhile
    (LangGraph refuses it: serialization failure) is skipped and counted, not the whole run."""
    todo = list(threads) if threads is not None else await threads_with_history(pool)
    failed: dict[str, int] = {}
    for thread in todo:
        try:
            await saver.aprune([thread], strategy=STRATEGY)
        except psycopg.Error as error:
            failed[type(error).__name__] = failed.get(type(error).__name__, 0) + 1
    if failed:
        log.warning("checkpoint history of %d thread(s) not pruned: %s; the next prune takes them",
                    sum(failed.values()), ", ".join(f"{k} x{v}" for k, v in sorted(failed.items())))
    return Pruned(threads=len(todo) - sum(failed.values()), failed=sum(failed.values()))
