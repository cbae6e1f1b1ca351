"""What a turn writes to Postgres, by TURN_DURABILITY: checkpoints, writes and bytes per turn.

    .venv/bin/python benchmarks/turn_cost.py [--durability sync,async,exit]
        [--conversations 5] [--database-url URL] [--keep-logs] [--json PATH]

For each durability (LangGraph's `durability` for every turn: "sync" and "async" save a
checkpoint after every step, "sync" waiting for each save; "exit", the product's default,
saves once when the run ends), the same short conversations run through the real webhook
path and the script counts what each kind of turn left in LangGraph's three tables, per
thread (`wa:<number>`):

- `checkpoints`: rows added (one per saved checkpoint) and their bytes;
- `checkpoint_blobs`: rows added (channel values, one per changed channel version) and bytes;
- `checkpoint_writes`: rows added (pending writes of each task) and bytes;

where bytes are `pg_column_size` of the rows (their stored size, compressed where Postgres
compressed them). It also gives the WAL each turn generated
(pg_current_wal_insert_lsn before and after, once the reply's status webhooks are applied:
inbox, turn record, outbox, desk and checkpoints together). WAL is only attributable on a
server nobody else writes to, so by default a private PostgreSQL is started for the run (the
system's initdb/pg_ctl in a temporary directory); with --database-url a database is created
on that server instead, and the WAL figure then includes other users' writes. Over all of a
durability's turns together it gives the tuples Postgres inserted and updated in each of the
three tables and in all other tables (pg_stat_user_tables, read 11 s after the turns, once
every backend has flushed its statistics): an upsert that rewrites a row counts there but
adds no row.

The turns, in order, for each of --conversations new customers (numbers not on file):

1. greeting: "hi there" (router, canned reply);
2. policy: "how long do refunds take?" (router, retrieval, agent with a cited answer);
3. order, ask: "where is my order HP-10007?" (router; the bot asks to verify first);
4. order, verify + status: "HP-10007 41JS" (verification by order number and postcode,
   then the agent's order_status tool call and answer).

What runs, each its own OS process: `.venv/bin/switchboard serve` (one process, HTTP, turn
worker and outbox sender; TURN_DURABILITY set per durability, DEBOUNCE_S 0.2, a fresh data
directory and run database each time), the model stub with no delay, the fake Cloud API
(the product's FakeCloudApi with a records route), a private Redis, and this process,
which sends each turn's signed webhooks (all conversations at once) and waits for every
reply and its delivery statuses before measuring.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import e2e_harness as e2e  # noqa: E402

SCRIPT = [
    ("greeting", "hi there"),
    ("policy", "how long do refunds take?"),
    ("order: ask", "where is my order HP-10007?"),
    ("order: verify + status", "HP-10007 41JS"),
]
TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")


def per_thread(db_url: str, threads: list[str]) -> dict[str, dict[str, float]]:
    """Rows and bytes per LangGraph table, summed over the threads of the conversations
    `threads` (server/conversation_ids.py thread_id, computed by Postgres)."""
    out = {}
    for table in TABLES:
        row = e2e.query(db_url, f"SELECT count(*) AS rows, coalesce(sum(pg_column_size(t.*)), 0) AS bytes"
                                f" FROM {table} t WHERE thread_id IN (SELECT 'wa:' || conversation_ref(c)"
                                f" FROM unnest(%s::text[]) c)", (threads,))[0]
        out[table] = {"rows": row["rows"], "bytes": int(row["bytes"])}
    return out


def table_stats(db_url: str) -> dict[str, dict[str, int]]:
    rows = e2e.query(db_url, "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables")
    out = {t: {"ins": 0, "upd": 0, "del": 0} for t in (*TABLES, "other tables")}
    for r in rows:
        key = r["relname"] if r["relname"] in TABLES else "other tables"
        out[key]["ins"] += r["n_tup_ins"]
        out[key]["upd"] += r["n_tup_upd"]
        out[key]["del"] += r["n_tup_del"]
    return out


def wal_lsn(db_url: str) -> str:
    return e2e.query(db_url, "SELECT pg_current_wal_insert_lsn()::text AS lsn")[0]["lsn"]


def wal_bytes(db_url: str, before: str, after: str) -> int:
    return int(e2e.query(db_url, "SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn) AS d",
                         (after, before))[0]["d"])


def measure_mode(args: argparse.Namespace, h: e2e.Harness, mode: str, server_url: str,
                 redis_url: str, stub: e2e.Service, fake: e2e.Service, port: int,
                 run_id: str) -> dict[str, Any]:
    db_url = e2e.create_run_database(h, server_url, f"bench_cost_{run_id}_{mode}")
    env = e2e.switchboard_env(
        database_url=db_url, redis_url=redis_url, data_dir=h.workdir / f"data-{mode}", port=port,
        model_url=f"{stub.url}/v1", graph_url=fake.url, debounce_s=0.2,
        extra={"TURN_DURABILITY": mode, "LOG_LEVEL": args.log_level})
    serve = e2e.start_serve(h, env, 1, name=f"serve-{mode}")
    try:
        return asyncio.run(run_script(args, db_url, serve.url, fake.url, mode, run_id)) | {
            "logs": e2e.scan_logs([serve.log_path])}
    finally:
        serve.stop()


async def run_script(args: argparse.Namespace, db_url: str, server_url: str, fake_url: str,
                     mode: str, run_id: str) -> dict[str, Any]:
    prefix = e2e.phone_prefix()
    phones = [f"{prefix}{c:05d}" for c in range(args.conversations)]
    threads = phones  # the threads are "wa:" + each number's opaque ref (per_thread)
    replies = e2e.Replies()
    records = e2e.FakeRecords(fake_url, replies.on_send).start()
    steps = []
    await asyncio.to_thread(settle, db_url, fake_url, stats_s=11.0)
    stats_before = await asyncio.to_thread(table_stats, db_url)
    async with e2e.WebhookClient(f"{server_url}/webhooks/meta") as client:
        for step, (name, text) in enumerate(SCRIPT):
            await asyncio.to_thread(settle, db_url, fake_url)
            rows_before = await asyncio.to_thread(per_thread, db_url, threads)
            lsn_before = await asyncio.to_thread(wal_lsn, db_url)
            now = int(time.time())
            sent = await asyncio.gather(*(
                e2e.converse_once(client, replies, e2e.Sent(p, f"wamid.TC{run_id}.{mode}.{p}.{step}",
                                                            name, time.time()),
                                  e2e.text_webhook(p, text, f"wamid.TC{run_id}.{mode}.{p}.{step}", now),
                                  timeout_s=60, retry=True)
                for p in phones))
            await asyncio.to_thread(settle, db_url, fake_url)
            lsn_after = await asyncio.to_thread(wal_lsn, db_url)
            rows_after = await asyncio.to_thread(per_thread, db_url, threads)
            answered = [s for s in sent if s.reply_at is not None]
            n = len(phones)
            outcomes = collections.Counter(
                f"{r['outcome']}:{r['reason']}" for r in e2e.query(
                    db_url, "SELECT t.outcome, t.reason FROM turns t JOIN inbound_messages m"
                            " ON m.turn_key = t.turn_key WHERE m.provider_message_id LIKE %s",
                    (f"wamid.TC{run_id}.{mode}.%.{step}",)))
            steps.append({
                "turn": name, "text": text, "answered": len(answered), "of": n,
                "turn_outcomes": dict(outcomes),
                "reply_sample": next((r["text"] for r in records.sent[::-1]), "")[:120],
                "per_turn": {t: {"rows": (rows_after[t]["rows"] - rows_before[t]["rows"]) / n,
                                 "bytes": (rows_after[t]["bytes"] - rows_before[t]["bytes"]) / n}
                             for t in TABLES},
                "wal_bytes_per_turn": wal_bytes(db_url, lsn_before, lsn_after) / n,
                "latency_s": e2e.summarise(s.latency for s in answered),
            })
            e2e.log(f"{mode}: {name}: {len(answered)}/{n} answered; checkpoints"
                    f" {steps[-1]['per_turn']['checkpoints']['rows']:.1f}/turn")
    await records.stop()
    await asyncio.to_thread(settle, db_url, fake_url, stats_s=11.0)
    stats_after = await asyncio.to_thread(table_stats, db_url)
    turns = len(phones) * len(SCRIPT)
    return {"durability": mode, "steps": steps,
            "tuples_per_turn_all_turns": {t: {k: (stats_after[t][k] - stats_before[t][k]) / turns
                                              for k in ("ins", "upd", "del")} for t in stats_after},
            "thread_totals": await asyncio.to_thread(per_thread, db_url, threads)}


def settle(db_url: str, fake_url: str, timeout_s: float = 60.0, stats_s: float = 0.5) -> None:
    """Wait until nothing is in flight (inbox, outbox, the fake's status webhooks), then
    `stats_s` more (11 s: every backend has flushed its table statistics)."""
    import json
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        open_rows = e2e.query(db_url, """
            SELECT (SELECT count(*) FROM inbound_messages WHERE state IN ('pending', 'in_turn'))
                 + (SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending', 'unconfirmed')
                      OR (kind = 'text' AND status <> 'read')) AS n""")[0]["n"]
        with urllib.request.urlopen(f"{fake_url}/__bench/records?since=999999999", timeout=5) as r:
            in_flight = json.load(r)["webhooks_in_flight"]
        if not open_rows and not in_flight:
            break
        time.sleep(0.2)
    time.sleep(stats_s)


def print_result(result: dict[str, Any]) -> None:
    print(f"\nper turn, averaged over {result['settings']['conversations']} conversations"
          f" (rows and bytes added to LangGraph's tables for the thread; WAL of the whole turn)")
    header = (f"{'durability':10s} {'turn':24s} {'ckpts':>6s} {'ckpt B':>8s} {'blobs':>6s}"
              f" {'blob B':>8s} {'writes':>6s} {'write B':>8s} {'all B':>8s} {'WAL B':>8s}")
    print(header)
    for mode in result["modes"]:
        for s in mode["steps"]:
            p = s["per_turn"]
            total = sum(p[t]["bytes"] for t in TABLES)
            print(f"{mode['durability']:10s} {s['turn']:24s} {p['checkpoints']['rows']:6.1f}"
                  f" {p['checkpoints']['bytes']:8.0f} {p['checkpoint_blobs']['rows']:6.1f}"
                  f" {p['checkpoint_blobs']['bytes']:8.0f} {p['checkpoint_writes']['rows']:6.1f}"
                  f" {p['checkpoint_writes']['bytes']:8.0f} {total:8.0f} {s['wal_bytes_per_turn']:8.0f}"
                  + ("" if s["answered"] == s["of"] else f"  ({s['answered']}/{s['of']} answered)"))
        if mode["logs"]["by_level"]:
            e2e.print_log_scan(mode["logs"], limit=5)
    print("tuples inserted/updated per turn, averaged over all four turns (pg_stat_user_tables):")
    for mode in result["modes"]:
        tup = mode["tuples_per_turn_all_turns"]
        print(f"  {mode['durability']:6s} " + ", ".join(
            f"{t} {tup[t]['ins']:.1f}/{tup[t]['upd']:.1f}" for t in (*TABLES, "other tables")))
    for mode in result["modes"]:
        outcomes = {s["turn"]: s["turn_outcomes"] for s in mode["steps"]}
        print(f"  {mode['durability']}: turn outcomes {outcomes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--durability", default="sync,async,exit")
    parser.add_argument("--conversations", type=int, default=5)
    parser.add_argument("--database-url", default=None,
                        help="create the run databases on this server instead of a private one")
    e2e.add_run_arguments(parser)
    args = parser.parse_args()
    run_id = e2e.run_id()
    result: dict[str, Any] = {"benchmark": "turn_cost", "run": run_id, "machine": e2e.machine_info(),
                              "settings": {k: v for k, v in vars(args).items() if k != "json"},
                              "modes": []}
    with e2e.Harness("turn-cost", keep=args.keep_logs) as h:
        if args.database_url:
            server_url = args.database_url
            result["postgres"] = "shared server: WAL figures include other users' writes"
        else:
            server_url = e2e.PrivatePostgres(h).url
            result["postgres"] = "private server started for the run"
        redis = e2e.PrivateRedis(h)
        stub = e2e.start_model_stub(h, 0.0)
        port = e2e.free_port()
        fake = e2e.start_fake(h, f"http://127.0.0.1:{port}/webhooks/meta")
        for i, mode in enumerate(args.durability.split(",")):
            redis_url = redis.url.rsplit("/", 1)[0] + f"/{i}"
            result["modes"].append(measure_mode(args, h, mode, server_url, redis_url, stub, fake,
                                                port, run_id))
    print_result(result)
    e2e.write_json(args.json, result)


if __name__ == "__main__":
    main()
