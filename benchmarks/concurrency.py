"""Many concurrent conversations with a slow model: first-response latency, no loss, no doubles.

    .venv/bin/python benchmarks/concurrency.py [--conversations 1000] [--think-s 30]
        [--duration 240] [--model-delay 1.5] [--debounce-s 3] [--processes 1]
        [--mix policy:3,greeting:1,order:1] [--database-url URL] [--keep-logs] [--json PATH]
    # smoke run
    .venv/bin/python benchmarks/concurrency.py --conversations 100 --think-s 5 --duration 60

Target (issue): 1,000 concurrent conversations, each writing, waiting for its reply,
thinking 30 s and writing again, against a model that answers after 1.5 s: first-response
latency p95 <= DEBOUNCE_S + 5 s (3 + 5 = 8 s by default), zero messages lost, zero
duplicates.

What runs, each its own OS process (see benchmarks/e2e_harness.py):

- Switchboard: `.venv/bin/switchboard serve --processes N` (--processes, default 1: HTTP, a
  turn worker and the outbox sender in each), DEBOUNCE_S=--debounce-s (default 3, the
  product's), everything else the product's defaults (WORKER__CONCURRENCY 64 turns per
  process, LOG_LEVEL INFO, ...).
- Model stub (`python -m tests.model_stub`) answering every router and agent call after
  --model-delay seconds (1.5); a policy question makes 2 calls (router, agent), a greeting
  and an order question from an unverified number 1 (router).
- The fake Cloud API (the product's FakeCloudApi in its own process, with a records route),
  which posts signed sent/delivered/read status webhooks back for every reply.
- A database created for the run on --database-url's server (dropped at the end), a
  private redis-server.
- Load generator (this process): --conversations customers. Each starts at a random moment
  within the first think time (so they do not all write in the same second), then loops:
  send one signed Meta webhook (a webhook not answered 200 is retried as Meta does), wait
  for the reply to arrive at the fake, think --think-s seconds, write again; until
  --duration is over. Then in-flight messages are waited for (up to --reply-timeout).

Reported:

- first-response latency p50/p95/p99: from the webhook being sent to the reply being
  received by the fake (its own clock, same machine), over messages sent after --warmup;
- lost: messages acknowledged 200 with no reply by the end;
- duplicates: an outbox row the fake received more than once; a turn with more than one
  reply row; a reply the fake received for a customer who had nothing waiting; outbox rows
  sent more than once (attempts > 1);
- CPU seconds (and cores) per process group over the run, and the peak RSS of the server
  processes (sum over the process tree, sampled every 0.5 s);
- the turns table's outcomes and messages per turn, and WARNING/ERROR lines in the logs.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import e2e_harness as e2e  # noqa: E402


def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = e2e.run_id()
    result: dict[str, Any] = {"benchmark": "concurrency", "run": run_id,
                              "machine": e2e.machine_info(),
                              "settings": {k: v for k, v in vars(args).items() if k != "json"}}
    with e2e.Harness("concurrency", keep=args.keep_logs) as h:
        stack = e2e.start_stack(
            h, database_url=args.database_url, db_name=f"bench_cc_{run_id}",
            model_delay=args.model_delay, debounce_s=args.debounce_s, processes=args.processes,
            extra={"LOG_LEVEL": args.log_level, "WORKER__CONCURRENCY": args.worker_concurrency})
        serve, fake, db_url = stack.serve, stack.fake, stack.db_url
        with e2e.RssSampler(lambda: [serve.pid]) as rss:
            result.update(asyncio.run(load(args, run_id, serve.url, fake.url, stack.meter)))
        result["server_rss"] = rss.report()
        result.update(check_database(db_url, result))
        result["logs"] = e2e.scan_logs([serve.log_path])
        result["log_dir"] = str(h.workdir) if args.keep_logs else None
    target = args.debounce_s + 5.0
    p95 = result["latency_s"].get("p95", float("inf"))
    result["targets"] = {
        f"p95 <= {target:g} s": p95 <= target,
        "zero lost": result["lost"] == 0,
        "zero duplicates": result["duplicates"]["total"] == 0,
    }
    return result


async def load(args: argparse.Namespace, run_id: str, server_url: str, fake_url: str,
               meter: e2e.CpuMeter) -> dict[str, Any]:
    prefix = e2e.phone_prefix()
    mix = e2e.parse_mix(args.mix)
    replies = e2e.Replies()
    records = e2e.FakeRecords(fake_url, replies.on_send, every_s=0.1).start()
    done: list[e2e.Sent] = []
    began = time.time()
    end = began + args.duration
    in_flight = 0
    peak_in_flight = 0

    async with e2e.WebhookClient(f"{server_url}/webhooks/meta", max_connections=256) as client:
        async def customer(c: int) -> None:
            nonlocal in_flight, peak_in_flight
            phone = f"{prefix}{c:05d}"
            await asyncio.sleep(random.uniform(0, args.think_s))
            seq = 0
            while time.time() < end:
                kind = mix[(c + seq) % len(mix)]
                message_id = f"wamid.CC{run_id}.{c}.{seq}"
                now = time.time()
                body = e2e.text_webhook(phone, e2e.MESSAGES[kind][0], message_id, int(now))
                sent = e2e.Sent(phone, message_id, kind, time.time())
                in_flight += 1
                peak_in_flight = max(peak_in_flight, in_flight)
                try:
                    await e2e.converse_once(client, replies, sent, body, args.reply_timeout,
                                            retry=True)
                finally:
                    in_flight -= 1
                done.append(sent)
                seq += 1
                if sent.timed_out:
                    return  # a late reply would be taken for the next message's
                await asyncio.sleep(args.think_s)

        e2e.log(f"{args.conversations} conversations, think {args.think_s:g} s, model"
                f" {args.model_delay:g} s, debounce {args.debounce_s:g} s, for {args.duration:.0f} s")
        before = meter.snapshot()
        tasks = [asyncio.create_task(customer(c)) for c in range(args.conversations)]
        reporter = asyncio.create_task(progress(done, lambda: in_flight, began))
        await asyncio.gather(*tasks)
        reporter.cancel()
        after = meter.snapshot()
        await asyncio.sleep(2.0)  # room for a late duplicate
        await records.stop()

    measured = [s for s in done if s.sent_at >= began + args.warmup]
    acked = [s for s in done if s.status == "200"]
    lost = [s for s in acked if s.reply_at is None]
    by_outbox = collections.Counter(r["outbox_id"] for r in records.sent if r["type"] in ("text", "template"))
    cpu = e2e.CpuMeter.delta(before, after)
    return {
        "wall_s": time.time() - began,
        "messages_sent": len(done), "acknowledged": len(acked),
        "messages_per_s": len(done) / args.duration,
        "peak_messages_in_flight": peak_in_flight,
        "webhook_statuses": dict(client.statuses),
        "webhooks_retried": sum(s.attempts > 1 for s in done),
        "latency_s": e2e.summarise(s.latency for s in measured if s.latency is not None),
        "latency_by_kind_s": e2e.latency_by_kind(measured),
        "lost": len(lost), "lost_sample": [s.message_id for s in lost[:5]],
        "timed_out": sum(s.timed_out for s in done),
        "fake_sends": len(records.sent),
        "fake_outbox_ids_more_than_once": sum(1 for n in by_outbox.values() if n > 1),
        "fake_sends_without_outbox_id": by_outbox.get(None, 0),
        "replies_for_nobody_waiting": len(replies.unexpected),
        "replies_for_nobody_waiting_sample": replies.unexpected[:3],
        "cpu": cpu,
        "fake": {k: v for k, v in records.latest.items() if k != "sent"},
    }


async def progress(done: list[e2e.Sent], in_flight, began: float, every_s: float = 15.0) -> None:
    seen = 0
    while True:
        await asyncio.sleep(every_s)
        recent = [s.latency for s in done[seen:] if s.latency is not None]
        seen = len(done)
        s = e2e.summarise(recent)
        e2e.log(f"t={time.time() - began:5.0f} s: {len(done)} answered or given up, {in_flight()} in"
                f" flight; last {every_s:.0f} s: {e2e.fmt_latency(s)}")


def check_database(db_url: str, result: dict[str, Any]) -> dict[str, Any]:
    per_turn = e2e.query(db_url, """
        SELECT count(*) FILTER (WHERE n > 1) AS turns_with_several_replies,
               count(*) AS turns_with_replies
        FROM (SELECT split_part(idempotency_key, ':', 1) || ':' || split_part(idempotency_key, ':', 2)
                     AS turn_key, count(*) AS n
              FROM outbox WHERE kind IN ('text', 'template') GROUP BY 1) t""")[0]
    resent = e2e.query(db_url, "SELECT count(*) AS n FROM outbox WHERE kind IN ('text', 'template')"
                               " AND (attempts > 1 OR resends > 0)")[0]["n"]
    duplicates = {
        "fake_outbox_ids_more_than_once": result["fake_outbox_ids_more_than_once"],
        "turns_with_several_reply_rows": per_turn["turns_with_several_replies"],
        "replies_for_nobody_waiting": result["replies_for_nobody_waiting"],
    }
    duplicates["total"] = sum(duplicates.values())
    return {**e2e.turn_summary(db_url), "reply_rows_sent_more_than_once": resent, "outbox": e2e.outbox_summary(db_url),
            "duplicates": duplicates, "stages_s": e2e.stage_breakdown(db_url)}


def print_result(r: dict[str, Any]) -> None:
    s = r["settings"]
    print(f"\n{s['conversations']} conversations, think {s['think_s']:g} s, model {s['model_delay']:g} s,"
          f" debounce {s['debounce_s']:g} s, serve --processes {s['processes']}, {s['duration']:.0f} s")
    print(f"  messages: sent {r['messages_sent']} ({r['messages_per_s']:.1f}/s), acknowledged"
          f" {r['acknowledged']}, webhook statuses {r['webhook_statuses']}, retried"
          f" {r['webhooks_retried']}; peak in flight {r['peak_messages_in_flight']}")
    print(f"  first-response latency (after {s['warmup']:g} s warm-up): {e2e.fmt_latency(r['latency_s'])}")
    for kind, lat in sorted(r["latency_by_kind_s"].items()):
        print(f"    {kind:9s} {e2e.fmt_latency(lat)}")
    print("  where it goes, per turn (database timestamps):")
    for stage, lat in r["stages_s"].items():
        print(f"    {stage:9s} {e2e.fmt_latency(lat)}")
    print(f"  lost {r['lost']}, timed out {r['timed_out']}; duplicates {r['duplicates']};"
          f" reply rows sent more than once {r['reply_rows_sent_more_than_once']}")
    print(f"  turns: {r['turn_outcomes']}, messages per turn {r['messages_per_turn']}")
    print(f"  inbox: {r['inbox_states']}; outbox: {r['outbox']}")
    print("  CPU over the run (s, cores): " + ", ".join(
        f"{k} {v:.1f} s / {r['cpu']['cores'][k]:.2f}" for k, v in r["cpu"]["cpu_s"].items()))
    rss = r["server_rss"]
    print(f"  server peak RSS: {rss['peak_total_mib']:.0f} MiB over its processes (largest one"
          f" {rss['peak_largest_process_mib']:.0f} MiB)")
    print(f"  fake: {r['fake']}")
    e2e.print_log_scan(r["logs"])
    print("targets: " + ", ".join(f"{k} {'MET' if v else 'NOT MET'}" for k, v in r["targets"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--think-s", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=240.0,
                        help="seconds during which customers start new messages")
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="messages sent in the first seconds are left out of the latency")
    parser.add_argument("--model-delay", type=float, default=1.5)
    parser.add_argument("--debounce-s", type=float, default=3.0)
    parser.add_argument("--processes", type=int, default=1, help="switchboard serve --processes")
    parser.add_argument("--mix", default="policy:3,greeting:1,order:1",
                        help=f"message kinds and weights; kinds: {', '.join(e2e.MESSAGES)}")
    parser.add_argument("--reply-timeout", type=float, default=120.0)
    parser.add_argument("--worker-concurrency", type=int, default=None,
                        help="WORKER__CONCURRENCY (default: the product's)")
    parser.add_argument("--database-url", default=e2e.DEFAULT_DATABASE_URL)
    e2e.add_run_arguments(parser)
    e2e.report(parser.parse_args(), run, print_result)


if __name__ == "__main__":
    main()
