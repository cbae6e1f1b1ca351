"""Chaos: duplicated, shuffled webhooks while workers are killed and Redis and Postgres restart.

    .venv/bin/python benchmarks/chaos.py [--messages 3000] [--conversations 300]
        [--duplicates 0.2] [--send-s 150] [--kill-every-s 10] [--model-delay 1.0]
        [--pg-restart-mode fast] [--keep-logs] [--json PATH]
    # smoke run
    .venv/bin/python benchmarks/chaos.py --messages 600 --conversations 60 --send-s 60

Target (issue): every customer message is answered exactly once through every fault: no
message lost, no reply sent twice.

What runs, each its own OS process (see benchmarks/e2e_harness.py):

- a private PostgreSQL (the system's initdb/pg_ctl in a temporary directory, as the
  `postgres` OS user when run as root; TCP on a free port) that can be restarted without
  disturbing anyone; the run's database is created on it;
- a private redis-server without persistence (`--save "" --appendonly no`);
- Switchboard HTTP: `.venv/bin/switchboard serve --no-worker` (one process);
- Switchboard workers: `.venv/bin/switchboard worker --processes 2` (a supervisor that
  restarts a child that dies; each child runs a turn worker and the outbox sender);
- the model stub answering after --model-delay (1 s) and the fake Cloud API (the product's
  FakeCloudApi with a records route; status webhooks that are refused are retried for up to
  --webhook-retry-s, as Meta does);
- the load generator (this process).

Load: --messages customer messages over --conversations customers (10 each by default).
Each message's payload timestamp gives the real order within its conversation (1 s apart,
an hour ago); a fraction --duplicates of them is delivered a second time with the same
message id (as Meta retries); then all deliveries are shuffled and sent at an even pace
over --send-s seconds. A webhook not answered 200 (Postgres is down) is sent again after
0.5, 1, 2, 4, 5, 5... s, as Meta does.

Faults, during the sending only: every --kill-every-s seconds a `kill -9` of the worker
child that has run the longest (the supervisor starts another); once, at 35% of the
sending, Redis is killed and started again empty on the same port (its data is lost); once,
at 65%, PostgreSQL is restarted (`pg_ctl restart -m --pg-restart-mode`, fast by default:
every session is cut).

Then the script waits until drained (every stored message out of pending/in_turn and no
outbox row pending, sending or unconfirmed) and checks, from Postgres and from what the
fake received:

- every customer message is stored once and ends in state 'done', in a turn (turns table)
  whose outcome is 'replied' or 'handoff'; 'silent' turns are listed with their reason;
- each turn's reply rows are sent (status sent/delivered/read), the fake received each
  outbox id exactly once, and never more texts for one turn than it has reply rows;
- zero duplicate sends overall, and no send the database does not know.

Reported: the faults and when, how long draining took after the last message was
acknowledged and after the last fault, webhook statuses, worker restarts, and
WARNING/ERROR lines from the server, worker and Postgres logs.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

import e2e_harness as e2e  # noqa: E402


def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = e2e.run_id()
    result: dict[str, Any] = {"benchmark": "chaos", "run": run_id, "machine": e2e.machine_info(),
                              "settings": {k: v for k, v in vars(args).items() if k != "json"}}
    with e2e.Harness("chaos", keep=args.keep_logs) as h:
        pg = e2e.PrivatePostgres(h)
        db_url = e2e.create_run_database(h, pg.url, "switchboard")
        redis = e2e.PrivateRedis(h)
        stub = e2e.start_model_stub(h, args.model_delay)
        port = e2e.free_port()
        fake = e2e.start_fake(h, f"http://127.0.0.1:{port}/webhooks/meta",
                              webhook_retry_s=args.webhook_retry_s)
        env = e2e.switchboard_env(
            database_url=db_url, redis_url=redis.url, data_dir=h.workdir / "data", port=port,
            model_url=f"{stub.url}/v1", graph_url=fake.url, debounce_s=args.debounce_s,
            extra={"LOG_LEVEL": args.log_level})
        serve = e2e.start_serve(h, env, 1, worker=False, name="serve-http")
        workers = e2e.start_worker(h, env, args.worker_processes)
        chaos = Chaos(workers, redis, pg)
        result.update(asyncio.run(load(args, run_id, serve.url, fake.url, db_url, chaos)))
        result.update(check(db_url, result))
        restarts = workers.log_path.read_text(errors="replace").count("starting another")
        result["faults"] = {"events": chaos.events, "worker_kills": chaos.kills,
                            "worker_restarts_logged_by_supervisor": restarts,
                            "redis_restarts": redis.restarts, "postgres_restarts": pg.restarts}
        result["logs"] = {"switchboard": e2e.scan_logs([serve.log_path, workers.log_path]),
                          "postgres": e2e.scan_logs([pg.logfile])}
        result["log_dir"] = str(h.workdir) if args.keep_logs else None
    c = result["checks"]
    result["targets"] = {
        # A message held for the human who owns the conversation after a handoff is in a
        # 'silent' turn by design: it is counted and shown, and not held against the target.
        "every message done in a replied/handoff turn": c["messages_not_done"] == 0
        and c["messages_without_turn"] == 0 and c["messages_missing"] == 0
        and c["messages_in_silent_turns"] == c["messages_held_for_a_human_after_a_handoff"],
        "every reply sent exactly once": c["reply_rows_not_sent"] == 0
        and c["turns_without_reply_row"] == 0 and c["reply_rows_never_received"] == 0,
        "zero duplicate sends": c["duplicate_sends"] == 0 and c["turns_with_extra_texts"] == 0
        and c["sends_unknown_to_database"] == 0,
        "drained": result["drain"]["drained"],
    }
    return result


class Chaos:
    """The faults: worker kills, a Redis restart that loses its data, a Postgres restart."""

    def __init__(self, workers: e2e.Service, redis: e2e.PrivateRedis, pg: e2e.PrivatePostgres):
        self.workers, self.redis, self.pg = workers, redis, pg
        self.events: list[dict[str, Any]] = []
        self.kills = 0
        self.began = time.time()

    def _event(self, kind: str, **details: Any) -> None:
        event = {"at_s": round(time.time() - self.began, 1), "kind": kind, **details}
        self.events.append(event)
        e2e.log(f"fault: {event}")

    def kill_worker(self) -> None:
        import psutil

        children = []
        for pid in e2e.worker_like_children(self.workers.pid):
            with contextlib.suppress(psutil.Error):
                children.append(psutil.Process(pid))
        if not children:
            self._event("kill -9 skipped", reason="no worker child running")
            return
        oldest = min(children, key=lambda p: p.create_time())
        age = time.time() - oldest.create_time()
        os.kill(oldest.pid, signal.SIGKILL)
        self.kills += 1
        self._event("kill -9 worker", pid=oldest.pid, up_s=round(age, 1))

    def restart_redis(self) -> None:
        away = self.redis.restart_losing_data()
        self._event("redis restarted empty", away_s=round(away, 2))

    def restart_postgres(self, mode: str) -> None:
        took = self.pg.restart(mode)
        self._event(f"postgres restart -m {mode}", took_s=round(took, 2))


def plan(args: argparse.Namespace, run_id: str) -> tuple[list[dict], list[dict]]:
    """(messages in true order, deliveries in arrival order)."""
    rng = random.Random(args.seed)
    prefix = e2e.phone_prefix()
    kinds = e2e.parse_mix(args.mix)
    base = int(time.time()) - 3600
    messages = []
    for i in range(args.messages):
        c, j = i % args.conversations, i // args.conversations
        kind = kinds[(c + j) % len(kinds)]
        messages.append({"phone": f"{prefix}{c:05d}", "message_id": f"wamid.CH{run_id}.{c}.{j}",
                         "kind": kind, "timestamp": base + j, "conversation": c, "seq": j})
    deliveries = list(messages)
    deliveries += rng.sample(messages, round(args.duplicates * len(messages)))
    rng.shuffle(deliveries)
    return messages, deliveries


async def load(args: argparse.Namespace, run_id: str, server_url: str, fake_url: str,
               db_url: str, chaos: Chaos) -> dict[str, Any]:
    messages, deliveries = plan(args, run_id)
    records = e2e.FakeRecords(fake_url, every_s=0.5).start()
    outcomes: list[tuple[str, int, float]] = []
    began = time.time()
    chaos.began = began
    interval = args.send_s / len(deliveries)

    async with e2e.WebhookClient(f"{server_url}/webhooks/meta", max_connections=64) as client:
        async def deliver(d: dict) -> None:
            body = e2e.text_webhook(d["phone"], e2e.MESSAGES[d["kind"]][0], d["message_id"],
                                    d["timestamp"])
            status, attempts = await client.post(body, retry=True, give_up_s=args.give_up_s)
            outcomes.append((status, attempts, time.time()))

        async def faults() -> None:
            schedule = [(k * args.kill_every_s, "kill") for k in
                        range(1, int(args.send_s // args.kill_every_s) + 1)]
            schedule += [(args.send_s * 0.35, "redis"), (args.send_s * 0.65, "postgres")]
            for at, kind in sorted(schedule):
                await asyncio.sleep(max(0.0, began + at - time.time()))
                if kind == "kill":
                    await asyncio.to_thread(chaos.kill_worker)
                elif kind == "redis":
                    await asyncio.to_thread(chaos.restart_redis)
                else:
                    await asyncio.to_thread(chaos.restart_postgres, args.pg_restart_mode)

        e2e.log(f"sending {len(deliveries)} deliveries ({len(messages)} messages,"
                f" {len(deliveries) - len(messages)} duplicates) over {args.conversations}"
                f" conversations in {args.send_s:.0f} s, shuffled")
        fault_task = asyncio.create_task(faults())
        tasks = []
        for k, d in enumerate(deliveries):
            await asyncio.sleep(max(0.0, began + k * interval - time.time()))
            tasks.append(asyncio.create_task(deliver(d)))
        await asyncio.gather(*tasks)
        await fault_task
        last_ack = max(t for _, _, t in outcomes)
        last_fault = began + max(e["at_s"] for e in chaos.events) if chaos.events else began
        e2e.log(f"all deliveries answered ({collections.Counter(s for s, _, _ in outcomes)});"
                f" waiting until drained")
        drain = await wait_drained(db_url, len(messages), run_id, args.drain_timeout)
        drain["after_last_message_s"] = (drain["at"] - last_ack) if drain["drained"] else None
        drain["after_last_fault_s"] = (drain["at"] - max(last_fault, began)) if drain["drained"] else None
        await asyncio.sleep(args.settle_s)  # room for a late duplicate send
        await records.stop()

    return {
        "messages": len(messages), "deliveries": len(deliveries),
        "duplicates_delivered": len(deliveries) - len(messages),
        "webhook_statuses": dict(client.statuses),
        "deliveries_not_acknowledged": sum(1 for s, _, _ in outcomes if s != "200"),
        "deliveries_retried": sum(1 for _, a, _ in outcomes if a > 1),
        "sending_s": last_ack - began,
        "drain": drain,
        "fake_sends": records.sent,
        "fake": {k: v for k, v in records.latest.items() if k != "sent"},
        "message_ids": [m["message_id"] for m in messages],
    }


async def wait_drained(db_url: str, expected: int, run_id: str, timeout_s: float) -> dict[str, Any]:
    began = time.time()
    last: dict[str, Any] = {}
    while time.time() - began < timeout_s:
        try:
            row = (await asyncio.to_thread(e2e.query, db_url, """
                SELECT (SELECT count(*) FROM inbound_messages WHERE provider_message_id LIKE %s) AS stored,
                       (SELECT count(*) FROM inbound_messages WHERE provider_message_id LIKE %s
                          AND state IN ('pending', 'in_turn')) AS unfinished,
                       (SELECT count(*) FROM outbox
                          WHERE status IN ('pending', 'sending', 'unconfirmed')) AS outbox_open""",
                (f"wamid.CH{run_id}.%", f"wamid.CH{run_id}.%")))[0]
        except Exception as error:  # noqa: BLE001 - Postgres may be restarting
            row = {"error": repr(error)}
        if row != last:
            e2e.log(f"drain: {row}")
            last = row
        if row.get("stored") == expected and row.get("unfinished") == 0 and row.get("outbox_open") == 0:
            return {"drained": True, "at": time.time(), "waited_s": time.time() - began, "state": row}
        await asyncio.sleep(1.0)
    return {"drained": False, "at": time.time(), "waited_s": time.time() - began, "state": last}


def check(db_url: str, result: dict[str, Any]) -> dict[str, Any]:
    ids = result.pop("message_ids")
    sends = result.pop("fake_sends")
    rows = e2e.query(db_url, "SELECT provider_message_id, state, turn_key FROM inbound_messages"
                             " WHERE provider_message_id = ANY(%s)", (ids,))
    stored = collections.Counter(r["provider_message_id"] for r in rows)
    turns = {r["turn_key"]: r for r in e2e.query(
        db_url, "SELECT turn_key, conversation_key, outcome, reason, messages, replies FROM turns")}
    reply_rows = e2e.query(db_url, "SELECT id, idempotency_key, kind, status, attempts, resends"
                                   " FROM outbox WHERE kind IN ('text', 'template')")
    rows_by_turn: dict[str, list[dict]] = collections.defaultdict(list)
    for r in reply_rows:
        rows_by_turn[r["idempotency_key"].rsplit(":", 1)[0]].append(r)
    outbox_ids = {str(r["id"]): r for r in reply_rows}

    states = collections.Counter(r["state"] for r in rows)
    without_turn = [r for r in rows if r["state"] == "done" and r["turn_key"] not in turns]
    in_silent = [r for r in rows if r["turn_key"] in turns and turns[r["turn_key"]]["outcome"] == "silent"]
    silent_reasons = collections.Counter(turns[r["turn_key"]]["reason"] for r in in_silent)
    message_turns = {r["turn_key"] for r in rows if r["turn_key"] in turns}

    text_sends = [s for s in sends if s["type"] in ("text", "template")]
    per_outbox = collections.Counter(s["outbox_id"] for s in text_sends)
    duplicates = {k: n for k, n in per_outbox.items() if n > 1}
    unknown = [s for s in text_sends if s["outbox_id"] not in outbox_ids]
    turns_with_extra, turns_without_row = [], []
    for turn_key in message_turns:
        t = turns[turn_key]
        own = rows_by_turn.get(turn_key, [])
        if t["replies"] and not own:
            turns_without_row.append(turn_key)
        received = sum(per_outbox.get(str(r["id"]), 0) for r in own)
        if received > len(own):
            turns_with_extra.append(turn_key)
    not_sent = [r for r in reply_rows if r["status"] not in ("sent", "delivered", "read")]
    never_received = [r for r in reply_rows if r["status"] in ("sent", "delivered", "read")
                      and per_outbox.get(str(r["id"]), 0) == 0]
    checks = {
        "messages_missing": sum(1 for m in ids if m not in stored),
        "messages_stored_more_than_once": sum(1 for n in stored.values() if n > 1),
        "message_states": dict(states),
        "messages_not_done": sum(n for s, n in states.items() if s != "done"),
        "messages_without_turn": len(without_turn),
        "messages_in_silent_turns": len(in_silent),
        "silent_turn_reasons": dict(silent_reasons),
        "turns": len(message_turns),
        "turn_outcomes": dict(collections.Counter(
            f"{turns[k]['outcome']}:{turns[k]['reason']}" for k in message_turns)),
        "messages_per_turn_avg": (sum(turns[k]["messages"] for k in message_turns)
                                  / len(message_turns)) if message_turns else None,
        "reply_rows": len(reply_rows),
        "reply_row_statuses": dict(collections.Counter(r["status"] for r in reply_rows)),
        "reply_rows_not_sent": len(not_sent),
        "reply_rows_sent_more_than_once_by_outbox": sum(1 for r in reply_rows if r["attempts"] > 1),
        "reply_rows_resent_after_unknown_outcome": sum(1 for r in reply_rows if r["resends"] > 0),
        "reply_rows_never_received": len(never_received),
        "turns_without_reply_row": len(turns_without_row),
        "fake_text_sends": len(text_sends),
        "duplicate_sends": sum(n - 1 for n in duplicates.values()),
        "duplicate_sample": [{"outbox_id": k, "times": n} for k, n in list(duplicates.items())[:5]],
        "turns_with_extra_texts": len(turns_with_extra),
        "sends_unknown_to_database": len(unknown),
        "unknown_sample": unknown[:3],
        "fake_read_receipts": result.get("fake", {}).get("read_receipts"),
    }
    # Conversations that left the bot (a handoff, or messages held for a human): their story.
    handed = sorted({turns[k]["conversation_key"] for k in message_turns
                     if turns[k]["outcome"] != "replied"})
    held_after_handoff = 0
    for key in handed:
        handoffs = [t for t in turns.values() if t["conversation_key"] == key and t["outcome"] == "handoff"]
        held_after_handoff += sum(1 for r in in_silent if turns[r["turn_key"]]["conversation_key"] == key
                                  and turns[r["turn_key"]]["reason"] == "human_owns" and handoffs)
    checks["messages_held_for_a_human_after_a_handoff"] = held_after_handoff
    checks["left_the_bot"] = [{
        "conversation": key,
        "turns": e2e.query(db_url, "SELECT turn_key, outcome, reason, messages, replies, committed_at"
                                   " FROM turns WHERE conversation_key = %s ORDER BY committed_at", (key,)),
        "messages": e2e.query(db_url, "SELECT provider_message_id, sent_at, received_at, state, turn_key,"
                                      " body FROM inbound_messages WHERE conversation_key = %s"
                                      " ORDER BY received_at", (key,)),
    } for key in handed[:5]]
    if not_sent:
        checks["not_sent_sample"] = not_sent[:5]
    if without_turn:
        checks["without_turn_sample"] = without_turn[:5]
    return {"checks": checks}


def print_result(r: dict[str, Any]) -> None:
    s, c, d = r["settings"], r["checks"], r["drain"]
    print(f"\n{r['messages']} messages over {s['conversations']} conversations,"
          f" {r['duplicates_delivered']} delivered twice, shuffled, over {s['send_s']:.0f} s;"
          f" model {s['model_delay']:g} s; worker --processes {s['worker_processes']}")
    print(f"  faults: {r['faults']['worker_kills']} worker kills"
          f" ({r['faults']['worker_restarts_logged_by_supervisor']} restarts logged),"
          f" {r['faults']['redis_restarts']} Redis restart, {r['faults']['postgres_restarts']}"
          f" Postgres restart")
    for event in r["faults"]["events"]:
        print(f"    t={event['at_s']:6.1f} s {event}")
    print(f"  webhooks: {r['webhook_statuses']}; deliveries retried {r['deliveries_retried']},"
          f" never acknowledged {r['deliveries_not_acknowledged']}; sending took {r['sending_s']:.0f} s")
    if d["drained"]:
        print(f"  drained {d['after_last_message_s']:.1f} s after the last message was acknowledged,"
              f" {d['after_last_fault_s']:.1f} s after the last fault")
    else:
        print(f"  NOT DRAINED after {d['waited_s']:.0f} s: {d['state']}")
    print(f"  messages: missing {c['messages_missing']}, stored twice {c['messages_stored_more_than_once']},"
          f" states {c['message_states']}, without a turn {c['messages_without_turn']},"
          f" in silent turns {c['messages_in_silent_turns']} {c['silent_turn_reasons'] or ''}")
    print(f"  turns: {c['turns']} ({c['turn_outcomes']}), {c['messages_per_turn_avg']:.2f} messages"
          f" per turn; messages held for a human after a handoff"
          f" {c['messages_held_for_a_human_after_a_handoff']}")
    for story in c["left_the_bot"]:
        print(f"    conversation {story['conversation']} left the bot:")
        for t in story["turns"]:
            print(f"      turn {t['turn_key']}: {t['outcome']} ({t['reason']}), {t['messages']} message(s)")
        for m in story["messages"]:
            print(f"      message {m['provider_message_id']} sent {m['sent_at']:%H:%M:%S} received"
                  f" {m['received_at']:%H:%M:%S.%f} {m['state']} in {m['turn_key']}: {m['body'][:50]!r}")
    print(f"  replies: {c['reply_rows']} rows {c['reply_row_statuses']}; not sent {c['reply_rows_not_sent']},"
          f" never received by the fake {c['reply_rows_never_received']}, turns without a reply row"
          f" {c['turns_without_reply_row']}; sent more than once by the outbox"
          f" {c['reply_rows_sent_more_than_once_by_outbox']} (resent after an unknown outcome"
          f" {c['reply_rows_resent_after_unknown_outcome']})")
    print(f"  fake: {c['fake_text_sends']} texts; duplicate sends {c['duplicate_sends']},"
          f" turns with extra texts {c['turns_with_extra_texts']}, sends unknown to the database"
          f" {c['sends_unknown_to_database']}; {r['fake']}")
    print("  Switchboard logs:")
    e2e.print_log_scan(r["logs"]["switchboard"], limit=20)
    print("  Postgres log:")
    e2e.print_log_scan(r["logs"]["postgres"], limit=8)
    print("targets: " + ", ".join(f"{k} {'MET' if v else 'NOT MET'}" for k, v in r["targets"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--duplicates", type=float, default=0.2, help="fraction delivered twice")
    parser.add_argument("--send-s", type=float, default=150.0, help="seconds to send everything in")
    parser.add_argument("--kill-every-s", type=float, default=10.0)
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--model-delay", type=float, default=1.0)
    parser.add_argument("--debounce-s", type=float, default=3.0)
    parser.add_argument("--pg-restart-mode", choices=["smart", "fast", "immediate"], default="fast")
    parser.add_argument("--mix", default="policy:3,greeting:1,order:1",
                        help=f"message kinds and weights; kinds: {', '.join(e2e.MESSAGES)}")
    parser.add_argument("--webhook-retry-s", type=float, default=300.0,
                        help="how long the fake retries a refused status webhook")
    parser.add_argument("--give-up-s", type=float, default=600.0,
                        help="how long a customer webhook is retried")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--settle-s", type=float, default=5.0,
                        help="wait after draining, for late duplicate sends")
    parser.add_argument("--seed", type=int, default=None)
    e2e.add_run_arguments(parser)
    e2e.report(parser.parse_args(), run, print_result)


if __name__ == "__main__":
    main()
