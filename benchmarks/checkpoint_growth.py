"""How a long conversation's checkpoints grow: bytes and rows per turn and per conversation.

    .venv/bin/python benchmarks/checkpoint_growth.py [--turns 200] [--marks 25,50,100,200]
        [--database-url URL] [--keep-messages N] [--json PATH]

One conversation (a number not on file, new each run) runs --turns customer turns through the
real graph (`open_core`: `Conversations.handle` with a turn key, the product's
TURN_DURABILITY) on the real Postgres checkpointer, each followed by what the turn worker
does after a committed turn (`server.checkpoints.after_turn`, the checkpoint window). The
customer's messages cycle through questions, order lookups (with verification), small talk
and thanks (`SCRIPT`); each turn's clock is 61 s after the one before, so the rate limit
never trips and the 24-hour window stays open. A handoff is handed back to the bot at once
(`Conversations.resume`), as an agent would, so the conversation goes on.

The brain is the offline one (no model configured): this measures bytes, not latency, and
the state a model-driven turn leaves is of the same shape (messages, tool calls, lists).

At each mark it reads the thread's rows in LangGraph's three tables (checkpoints,
checkpoint_blobs, checkpoint_writes) and sums `octet_length` of every column of every row
(jsonb as its text), with the row count. "bytes/turn" is the conversation's bytes divided by
its turns; "last turns" is the growth since the previous mark divided by the turns between;
"peak bytes" is the most the thread held after any turn so far (it is read after every turn).
It also times the prune after each turn (mean and p95, milliseconds).

With no --database-url, a database is made on
postgresql://postgres@127.0.0.1:5432 and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from psycopg.conninfo import make_conninfo  # noqa: E402

from graph.base.conversation import ConversationId  # noqa: E402
from graph.base.settings import Settings  # noqa: E402
from server.composition import open_core  # noqa: E402
from server.conversation_ids import thread_id  # noqa: E402

SCRIPT = [
    "hi there",
    "how long do refunds take?",
    "where is my order HP-10007?",
    "HP-10007 41JS",
    "thanks, when will it arrive?",
    "do you ship to Ireland?",
    "ok cool",
    "what is the status of order HP-10007?",
    "can I return a sofa if it does not fit?",
    "great, thank you!",
    "how do I care for an oak table?",
    "is there a warranty on furniture?",
]
TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def thread_size(conn: psycopg.Connection, thread: str) -> dict[str, dict[str, int]]:
    """Rows and bytes (octet_length of every column, jsonb as text) of one thread per table."""
    out = {}
    for table in TABLES:
        columns = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = %s AND table_schema = current_schema()", (table,)).fetchall()
        lengths = " + ".join(
            f"coalesce(octet_length({name}{'' if kind == 'bytea' else '::text'}), 0)"
            for name, kind in columns)
        rows, size = conn.execute(
            f"SELECT count(*), coalesce(sum({lengths}), 0) FROM {table} WHERE thread_id = %s",
            (thread,)).fetchone()
        out[table] = {"rows": int(rows), "bytes": int(size)}
    return out


async def run(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    from server.checkpoints import after_turn  # the turn worker's step after a commit

    overrides: dict[str, Any] = {}
    if args.keep_messages is not None:
        overrides["checkpoints"] = {"keep_messages": args.keep_messages}
    settings = Settings(data_dir=Path(args.data_dir), _env_file=None, **overrides)
    conversation = ConversationId("4479" + str(uuid.uuid4().int)[:8])
    marks = sorted({m for m in args.marks if m <= args.turns} | {args.turns})
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    outcomes: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    peak = 0
    prune_s: list[float] = []
    async with open_core(settings, database_url=database_url) as core:
        thread = thread_id(conversation)
        started = time.perf_counter()
        for n in range(1, args.turns + 1):
            now = (start + timedelta(seconds=61 * n)).isoformat()
            turn = await core.conversations.handle(conversation, SCRIPT[(n - 1) % len(SCRIPT)],
                                                   now=now, turn_key=f"bench:{n}")
            outcome = turn.outcome[0]
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if turn.handoff:
                await core.conversations.resume(
                    conversation, {"action": "return_to_bot", "agent": "bench"}, now=now)
            pruning = time.perf_counter()
            await after_turn(core.conversations, conversation)
            prune_s.append(time.perf_counter() - pruning)
            with psycopg.connect(database_url) as conn:
                size = thread_size(conn, thread)
            peak = max(peak, sum(t["bytes"] for t in size.values()))
            if n in marks:
                state = await core.conversations.state(conversation)
                results.append({"turns": n, "tables": size,
                                "rows": sum(t["rows"] for t in size.values()),
                                "bytes": sum(t["bytes"] for t in size.values()), "peak_bytes": peak,
                                "messages_in_state": len(state.get("messages", [])),
                                "elapsed_s": round(time.perf_counter() - started, 1)})
        await core.conversations.forget(conversation)
    previous = {"turns": 0, "bytes": 0}
    for r in results:
        r["bytes_per_turn"] = round(r["bytes"] / r["turns"])
        r["last_turns_bytes_per_turn"] = round(
            (r["bytes"] - previous["bytes"]) / (r["turns"] - previous["turns"]))
        previous = r
    return {"turns": args.turns, "outcomes": outcomes, "marks": results,
            "keep_messages": settings.checkpoints.keep_messages,
            "prune_ms": {"mean": round(1000 * statistics.fmean(prune_s), 2),
                         "p95": round(1000 * statistics.quantiles(prune_s, n=20)[-1], 2)},
            "durability": settings.turn_durability}


def print_table(report: dict[str, Any]) -> None:
    print(f"durability={report['durability']} keep_messages={report['keep_messages']}"
          f" outcomes={report['outcomes']} prune after each turn, ms: {report['prune_ms']}")
    print(f"{'turns':>5} {'rows':>6} {'bytes':>11} {'bytes/turn':>10} {'last turns':>10}"
          f" {'peak bytes':>11} {'messages':>8}  rows per table (cp/blobs/writes)")
    for r in report["marks"]:
        per = "/".join(str(r["tables"][t]["rows"]) for t in TABLES)
        print(f"{r['turns']:>5} {r['rows']:>6} {r['bytes']:>11,} {r['bytes_per_turn']:>10,}"
              f" {r['last_turns_bytes_per_turn']:>10,} {r['peak_bytes']:>11,} {r['messages_in_state']:>8}  {per}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--marks", type=lambda s: [int(x) for x in s.split(",")],
                        default=[25, 50, 100, 200])
    parser.add_argument("--database-url", help="a server URL; a run database is made on it")
    parser.add_argument("--keep-messages", type=int, help="CHECKPOINTS__KEEP_MESSAGES")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)
    server_url = args.database_url or SERVER_URL
    name = f"bench_ckpt_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            args.data_dir = data_dir
            report = asyncio.run(run(args, make_conninfo(server_url, dbname=name)))
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
