"""`switchboard prune`: apply the retention periods (RETENTION__*, docs/retention.md).

Prune is a list of steps, each for one class of data; a step is told its cutoff (now minus
its class's period; a period of 0 keeps the class forever and skips its steps) and whether
this is a dry run, and returns how many rows, threads or files it removed (or would).
Adding a step is one line in STEPS. The table rules come from the data map
(server/privacy/data_map.py); the rest are steps of their own below.

What stays however old: messages of an unfinished turn, outbox rows not yet settled, the
threads of conversations a human owns or with unfinished messages, erasure tombstones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from graph.base import audit
from graph.base.settings import RetentionSettings
from graph.base.sql import Pool
from server import checkpoints
from server.desk import retention as desk
from server.media.store import MediaStore
from server.metrics import PRUNE_DELETED
from server.privacy.data_map import PLACES, DataClass, Place, Rule

BATCH = 5000
"""Rows blanked or deleted per transaction."""
MEDIA_BATCH = 200
"""Media rows handled per transaction (their files are deleted inside it)."""


@dataclass(frozen=True)
class Pruning:
    """What the steps run with."""

    pool: Pool
    store: MediaStore
    retention: RetentionSettings

    def cutoff(self, data_class: DataClass, now: datetime) -> datetime | None:
        """Now minus the class's period; None when the class is kept forever."""
        days = getattr(self.retention, f"{data_class}_days")
        return now - timedelta(days=days) if days else None


Run = Callable[[Pruning, datetime, bool], Awaitable[int]]


@dataclass(frozen=True)
class Step:
    """One pruning step of one class of data."""

    data_class: DataClass
    what: str
    run: Run


@dataclass(frozen=True)
class Pruned:
    """One step's outcome: rows, threads or files removed (or, dry, that would be)."""

    data_class: DataClass
    what: str
    count: int


def _table_step(place: Place, rule: Rule) -> Step:
    where = f"{place.time_column} < %s AND ({rule.applies})"
    # Batches walk the primary key (every table with rules has an `id`), so each is one
    # short transaction and the whole pass reads the table once.
    pick = (f"WITH b AS (SELECT id FROM {place.name} WHERE id > %s AND {where}"
            " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) ")
    change = (f"UPDATE {place.name} t SET {rule.blank} FROM b WHERE t.id = b.id" if rule.blank
              else f"DELETE FROM {place.name} t USING b WHERE t.id = b.id")
    batch = f"{pick}{change} RETURNING t.id"

    async def run(pruning: Pruning, cutoff: datetime, dry_run: bool) -> int:
        async with pruning.pool.connection() as conn:
            if dry_run:
                row = await (await conn.execute(
                    f"SELECT count(*) AS n FROM {place.name} WHERE {where}", (cutoff,))).fetchone()
                return int(row["n"]) if row else 0
            done, after = 0, 0
            while True:  # each batch its own transaction: no long lock on a live table
                ids = [row["id"] for row in await (await conn.execute(
                    batch, (after, cutoff, BATCH))).fetchall()]
                done += len(ids)
                if len(ids) < BATCH:
                    return done
                after = max(ids)

    columns = [part.split("=")[0].strip() for part in rule.blank.split(",")] if rule.blank else []
    action = f"blank {', '.join(columns)}" if columns else "delete rows"
    return Step(rule.data_class, f"{place.name}: {action}", run)


async def _desk_texts(pruning: Pruning, cutoff: datetime, dry_run: bool) -> int:
    async with pruning.pool.connection() as conn:
        return await desk.blank_text(conn, cutoff, dry_run=dry_run)


_OLD_MEDIA = ("created_at < %s AND state IN ('stored', 'refused', 'failed')")


async def _media(pruning: Pruning, cutoff: datetime, dry_run: bool) -> int:
    """Files and their rows: each batch's files are deleted inside its transaction, before
    its rows, so a failure leaves rows that the next prune finishes."""
    if dry_run:
        async with pruning.pool.connection() as conn:
            row = await (await conn.execute(
                f"SELECT count(*) AS n FROM inbound_media WHERE {_OLD_MEDIA}", (cutoff,))).fetchone()
            return int(row["n"]) if row else 0
    removed = 0
    while True:
        async with pruning.pool.connection() as conn, conn.transaction():
            rows = await (await conn.execute(
                f"SELECT id, storage_key FROM inbound_media WHERE {_OLD_MEDIA}"
                " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED", (cutoff, MEDIA_BATCH))).fetchall()
            for row in rows:
                if row["storage_key"]:
                    await pruning.store.delete(row["storage_key"])
            await conn.execute("DELETE FROM inbound_media WHERE id = ANY(%s)",
                               ([row["id"] for row in rows],))
        removed += len(rows)
        if len(rows) < MEDIA_BATCH:
            return removed


_IDLE_THREADS = """
SELECT thread_id FROM checkpoints WHERE checkpoint_ns = ''
GROUP BY thread_id HAVING max((checkpoint->>'ts')::timestamptz) < %s
"""
_BUSY_REFS = ("SELECT DISTINCT conversation_ref(conversation_key) AS ref FROM inbound_messages"
              " WHERE state IN ('pending', 'in_turn')")


async def _idle_threads(pruning: Pruning, cutoff: datetime, dry_run: bool) -> int:
    """Whole LangGraph threads whose last checkpoint is older than the cutoff, deleted through
    the checkpointer's `adelete_thread`; kept while a human owns the conversation or a message
    of it is unfinished (the checkpoint's `ts` is LangGraph's own write time)."""
    async with pruning.pool.connection() as conn:
        idle = [row["thread_id"] for row in await (await conn.execute(
            _IDLE_THREADS, (cutoff,))).fetchall()]
        keep = await desk.human_owned_refs(conn)
        keep |= {row["ref"] for row in await (await conn.execute(_BUSY_REFS)).fetchall()}
    threads = [t for t in idle if t.split(":", 1)[-1] not in keep]
    if not dry_run:
        saver = AsyncPostgresSaver(pruning.pool)
        for thread in threads:
            await saver.adelete_thread(thread)
    return len(threads)


_IDLE_FENCES = """
conversation_fences f WHERE NOT EXISTS (
    SELECT 1 FROM turns t WHERE t.conversation_key = f.conversation_key AND t.committed_at >= %s)
AND NOT EXISTS (
    SELECT 1 FROM inbound_messages m WHERE m.conversation_key = f.conversation_key
    AND (m.received_at >= %s OR m.state IN ('pending', 'in_turn')))
"""


async def _checkpoint_history(pruning: Pruning, cutoff: datetime, dry_run: bool) -> int:
    """Every thread down to the checkpoint it resumes from (server/checkpoints.py); the turn
    worker does the same after each turn, so this catches turns whose prune was refused.
    Counts threads (LangGraph's prune does not say how many rows it removed)."""
    if dry_run:
        return len(await checkpoints.threads_with_history(pruning.pool))
    pruned = await checkpoints.prune_checkpoint_history(AsyncPostgresSaver(pruning.pool), pruning.pool)
    return pruned.threads


async def _idle_fences(pruning: Pruning, cutoff: datetime, dry_run: bool) -> int:
    """Turn fences of conversations idle past the checkpoint period: pure leftovers (fences
    come from a sequence, so a later turn's fence is higher whether the row exists or not)."""
    async with pruning.pool.connection() as conn:
        if dry_run:
            row = await (await conn.execute(f"SELECT count(*) AS n FROM {_IDLE_FENCES}",
                                            (cutoff, cutoff))).fetchone()
            return int(row["n"]) if row else 0
        return (await conn.execute(f"DELETE FROM {_IDLE_FENCES}", (cutoff, cutoff))).rowcount


async def _audit(pruning: Pruning, cutoff: datetime, dry_run: bool) -> int:
    async with pruning.pool.connection() as conn:
        if dry_run:  # delete_before in a transaction rolled back: the count, nothing removed
            async with conn.transaction(force_rollback=True):
                return await audit.delete_before(conn, cutoff)
        return await audit.delete_before(conn, cutoff)


STEPS: tuple[Step, ...] = (
    *(_table_step(place, rule) for place in PLACES for rule in place.rules),
    Step(DataClass.MESSAGE_TEXT, "desk events and handoff summaries: blank texts", _desk_texts),
    Step(DataClass.MEDIA, "inbound_media: delete files and rows", _media),
    Step(DataClass.CHECKPOINT, "checkpoints: delete idle threads (adelete_thread)", _idle_threads),
    Step(DataClass.CHECKPOINT, "checkpoints: keep each thread's latest (aprune)", _checkpoint_history),
    Step(DataClass.CHECKPOINT, "conversation_fences: delete idle", _idle_fences),
    Step(DataClass.AUDIT, "audit_events: delete (tombstones stay)", _audit),
)


async def prune(pruning: Pruning, *, dry_run: bool = False, now: datetime | None = None,
                steps: tuple[Step, ...] = STEPS) -> list[Pruned]:
    """Run every step whose class has a period; each step commits on its own."""
    now = now or datetime.now(UTC)
    done = []
    for step in steps:
        cutoff = pruning.cutoff(step.data_class, now)
        if cutoff is not None:
            count = await step.run(pruning, cutoff, dry_run)
            done.append(Pruned(step.data_class, step.what, count))
            if not dry_run:
                PRUNE_DELETED.labels(data_class=str(step.data_class)).inc(count)
    return done
