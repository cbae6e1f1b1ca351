"""Where a customer's data lives: every table of ours that holds any, how a customer is keyed
there, its time column and its retention rules. `switchboard forget` erases a customer from
every place listed here; `switchboard prune` applies the rules (server/privacy/prune.py).

A customer is keyed by the conversation key (number digits or "bsuid:..."), by its opaque ref
(audit events; LangGraph threads are "wa:" + ref), or by the verification ledger's keyed hash
of the number. The desk's tables are erased by the desk's own operations (server/desk/
erasure.py), the audit trail by graph/base/audit.py `erase`, checkpoints by LangGraph's
`adelete_thread`. Not listed, on purpose: the demo shop (shop_*: the business's own system),
the desk's staff tables (agents, sessions, login throttle and events), secrets and migrations.

Adding a table is one line in PLACES, e.g.
    table("customer_consent", "conversation_key = ANY(%(keys)s)"),
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from graph.base import audit
from graph.base.sql import Conn
from server.conversation_ids import THREAD_PREFIX
from server.desk import erasure as desk
from server.media.store import MediaStore


class DataClass(StrEnum):
    """Classes of data with a retention period each (RETENTION__<CLASS>_DAYS)."""

    RAW_PAYLOAD = "raw_payload"
    MESSAGE_TEXT = "message_text"
    CHECKPOINT = "checkpoint"
    AUDIT = "audit"
    MEDIA = "media"


@dataclass(frozen=True)
class Subject:
    """One customer to erase: their conversation keys, refs and ledger hashes."""

    keys: list[str]
    refs: list[str]
    number_keys: list[str] = field(default_factory=list)

    @property
    def threads(self) -> list[str]:
        return [THREAD_PREFIX + ref for ref in self.refs]

    def params(self) -> dict[str, Any]:
        """The named SQL parameters a place's condition may use."""
        like = [k.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ":%"
                for k in self.keys]
        return {"keys": self.keys, "refs": self.refs, "numbers": self.number_keys,
                "threads": self.threads, "turn_keys": like}


@dataclass(frozen=True)
class Scope:
    """What an erasure runs with: the transaction's connection, the media store, and who
    asked (the audit tombstone's actor)."""

    conn: Conn
    store: MediaStore
    by: str


Count = Callable[[Conn, Subject], Awaitable[int]]
Erase = Callable[[Scope, Subject], Awaitable[int]]


@dataclass(frozen=True)
class Rule:
    """A retention rule of a table: rows of `data_class` older than its period (by the
    table's time column) and matching `applies` get `blank` (a SET list), or are deleted when
    `blank` is None. `applies` also keeps what must stay: unfinished turns, unsent rows.
    A table with rules needs an `id` primary key (prune walks it in batches)."""

    data_class: DataClass
    applies: str
    blank: str | None = None


@dataclass(frozen=True)
class Place:
    """One place that holds customer data."""

    name: str
    count: Count
    erase: Erase
    time_column: str | None = None
    rules: tuple[Rule, ...] = ()


def table(name: str, where: str, *, time_column: str | None = None,
          rules: tuple[Rule, ...] = ()) -> Place:
    """A table of ours erased by plain SQL: `where` picks a customer's rows, with the named
    parameters of `Subject.params`."""

    async def count(conn: Conn, subject: Subject) -> int:
        row = await (await conn.execute(
            f"SELECT count(*) AS n FROM {name} WHERE {where}", subject.params())).fetchone()
        return int(row["n"]) if row else 0

    async def erase(scope: Scope, subject: Subject) -> int:
        cursor = await scope.conn.execute(f"DELETE FROM {name} WHERE {where}", subject.params())
        return cursor.rowcount

    return Place(name, count, erase, time_column, rules)


def desk_place(name: str) -> Place:
    """A desk table, through the desk's own operations (server/desk/erasure.py)."""

    async def counted(conn: Conn, subject: Subject) -> int:
        return await desk.count(conn, name, subject.keys)

    async def erased(scope: Scope, subject: Subject) -> int:
        return await desk.erase(scope.conn, name, subject.keys)

    return Place(name, counted, erased)


async def _count_threads(conn: Conn, subject: Subject) -> int:
    saver = AsyncPostgresSaver(conn)  # reads through LangGraph's API, in the caller's transaction
    return sum([await saver.aget_tuple({"configurable": {"thread_id": t}}) is not None
                for t in subject.threads])


async def _erase_threads(scope: Scope, subject: Subject) -> int:
    saver = AsyncPostgresSaver(scope.conn)  # on this connection: part of the erasure's transaction
    found = await _count_threads(scope.conn, subject)
    for thread in subject.threads:
        await saver.adelete_thread(thread)
    return found


async def _count_media(conn: Conn, subject: Subject) -> int:
    row = await (await conn.execute("SELECT count(*) AS n FROM inbound_media"
                                    " WHERE conversation_key = ANY(%s)", (subject.keys,))).fetchone()
    return int(row["n"]) if row else 0


async def _erase_media(scope: Scope, subject: Subject) -> int:
    """Files first, rows next, in the transaction: if the commit then fails, the rows are still
    there and forgetting again finishes the job (a file already gone is no error)."""
    rows = await (await scope.conn.execute(
        "SELECT storage_key FROM inbound_media WHERE conversation_key = ANY(%s) FOR UPDATE",
        (subject.keys,))).fetchall()
    for row in rows:
        if row["storage_key"]:
            await scope.store.delete(row["storage_key"])
    cursor = await scope.conn.execute(
        "DELETE FROM inbound_media WHERE conversation_key = ANY(%s)", (subject.keys,))
    return cursor.rowcount


async def _count_audit(conn: Conn, subject: Subject) -> int:
    return sum([len(await audit.timeline(conn, ref)) for ref in subject.refs])


async def _erase_audit(scope: Scope, subject: Subject) -> int:
    return await audit.erase(scope.conn, subject.refs, by=scope.by, reason="customer erasure")


_UNFINISHED = "state NOT IN ('pending', 'in_turn')"
_OPEN = "status NOT IN ('pending', 'sending', 'unconfirmed')"
_SENT_MESSAGE = f"{_OPEN} AND kind <> 'read_receipt'"  # read receipts are deleted whole

PLACES: tuple[Place, ...] = (
    table("inbound_messages", "conversation_key = ANY(%(keys)s)", time_column="received_at", rules=(
        Rule(DataClass.RAW_PAYLOAD, f"{_UNFINISHED} AND payload <> '{{}}'::jsonb", "payload = '{}'::jsonb"),
        Rule(DataClass.MESSAGE_TEXT, f"{_UNFINISHED} AND body <> ''", "body = ''"))),
    table("outbox", "conversation_key = ANY(%(keys)s)", time_column="created_at", rules=(
        Rule(DataClass.RAW_PAYLOAD, f"{_OPEN} AND kind = 'read_receipt'"),  # pure leftover
        Rule(DataClass.RAW_PAYLOAD, f"{_SENT_MESSAGE} AND last_error IS NOT NULL", "last_error = NULL"),
        Rule(DataClass.MESSAGE_TEXT, f"{_SENT_MESSAGE} AND (body IS NOT NULL OR interactive IS NOT NULL"
             " OR template IS NOT NULL)", "body = NULL, interactive = NULL, template = NULL"))),
    table("turns", "conversation_key = ANY(%(keys)s)", time_column="committed_at"),
    table("conversation_fences", "conversation_key = ANY(%(keys)s)"),
    table("customer_consent", "conversation_key = ANY(%(keys)s)"),  # opt-in/out (0009)
    Place("inbound_media", _count_media, _erase_media, "created_at", rules=(
        Rule(DataClass.MESSAGE_TEXT, "(transcript IS NOT NULL OR filename IS NOT NULL)",
             "transcript = NULL, filename = NULL"),)),
    table("verification_attempts", "number_key = ANY(%(numbers)s) OR turn_key LIKE ANY(%(turn_keys)s)",
          time_column="at", rules=(Rule(DataClass.AUDIT, "true"),)),
    *(desk_place(name) for name in desk.TABLES),
    Place("checkpoints", _count_threads, _erase_threads),
    Place("audit_events", _count_audit, _erase_audit),  # last: its tombstone counts the rest
)
"""Every place of ours with customer data, in erasure order."""
