"""End-to-end turn throughput: signed webhook in -> reply received by the fake Cloud API.

    .venv/bin/python benchmarks/turn_throughput.py [--processes 1,2] [--seconds 60]
        [--warmup 15] [--in-flight 200] [--conversations 1500] [--debounce-s 0.2]
        [--mix policy:3,greeting:1,order:1] [--model-delay 0] [--database-url URL]
        [--keep-logs] [--py-spy DIR] [--json PATH]

Target (issue): at least 150 turns/s end to end on this machine (2 cores), with a model that
answers at once. The script reports whether it is met; nothing in it is tuned to meet it.

What runs, each its own OS process (benchmarks/e2e_harness.py starts and stops them all),
once per value of --processes, each time from scratch:

- Switchboard: `.venv/bin/switchboard serve --processes N` (each process: HTTP, a turn
  worker and the outbox sender), configured by environment: DEBOUNCE_S=--debounce-s (0.2 s by
  default, so that the 3 s debounce does not bound a conversation's pace), the router and
  the agent pointed at the model stub, META__GRAPH_URL at the fake, everything else the
  product's defaults (WORKER__CONCURRENCY 64, LOG_LEVEL INFO, TURN_DURABILITY exit, ...).
- PostgreSQL: a database created for the run on --database-url's server (default the
  machine's server, postgresql://postgres@127.0.0.1:5432/test_bench) and dropped at the end.
- Redis: a private redis-server on a free port.
- Model stub: `python -m tests.model_stub --delay --model-delay` (0 by default).
- Fake WhatsApp Cloud API: `python benchmarks/e2e_harness.py fake`, the product's
  FakeCloudApi (answers in Meta's shape, posts signed sent/delivered/read status webhooks
  back 0.25 s apart) with a records route the load generator polls every 50 ms.
- Load generator: this process. --conversations customer numbers; --in-flight of them
  write at any time, each one message (a signed Meta webhook, text chosen by --mix) and
  waits for the reply before the number goes to the back of the queue (a webhook not
  answered 200 is sent again after 0.5, 1, 2... s, as Meta retries) (a customer never has
  two messages in flight, so each message is one turn; with 1,500 numbers a number writes
  again only every several seconds, well clear of the outbox's per-recipient pacing). That
  is a closed loop: it measures capacity. Latency at capacity is mostly queueing
  (in-flight / throughput); it is reported, but the headline is turns/s.

Measurement: --warmup seconds of load first, then a --seconds window. Turns/s = replies the
fake received inside the window / window length. Latency = fake receive time minus the time
the webhook was sent, over messages sent in the window. CPU seconds per turn are given for
each process group: Switchboard (every serve process), the run database's Postgres backends,
the whole Postgres server (it includes other users' sessions), Redis, the model stub, the
fake, this load generator, and the rest of the machine. After the window the load stops
and in-flight messages are waited for; every acknowledged message must have had its reply
(lost = acknowledged without one), and Postgres is asked how many turns committed in the
window (a turn commits before its reply is paced and sent).

Diagnostics (--py-spy DIR, not part of the figures): py-spy samples every Switchboard process
during the window (`py-spy record --subprocesses --nonblocking --gil -r 100 -f raw`: only
the thread holding the GIL, i.e. Python at work), and the script prints the share of
samples by the package of the innermost frame and by the outermost module of ours on the
stack, so that the CPU per turn can be traced to its spenders. The raw file is kept for a
flame graph (e.g. speedscope, or inferno/flamegraph.pl on the collapsed stacks).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import e2e_harness as e2e  # noqa: E402

TARGET_TURNS_PER_S = 150.0


def run_configuration(args: argparse.Namespace, processes: int, run: str) -> dict[str, Any]:
    with e2e.Harness(f"turn-throughput-{processes}p", keep=args.keep_logs) as h:
        stack = e2e.start_stack(
            h, database_url=args.database_url, db_name=f"bench_tp_{run}_{processes}p",
            model_delay=args.model_delay, debounce_s=args.debounce_s, processes=processes,
            # The per-number send limit is Meta's upgraded tier: the default (80 messages/s)
            # would cap the measurement below the target by itself.
            extra={"LOG_LEVEL": args.log_level, "WORKER__CONCURRENCY": args.worker_concurrency,
                   "OUTBOX__NUMBER_RATE": 1000})
        serve, db_url = stack.serve, stack.db_url
        profiler = None
        if args.py_spy:
            profiler = ProfileRequest(args.py_spy / f"serve-{processes}p-{run}.txt", serve.pid,
                                      args.seconds)
        result = asyncio.run(load(args, run, processes, serve.url, stack.fake.url, stack.meter,
                                  profiler))
        if profiler:
            result["profile"] = profiler.summary()
        result["turns_committed_in_window"] = e2e.query(
            db_url, "SELECT count(*) AS n FROM turns WHERE committed_at >= to_timestamp(%s)"
                    " AND committed_at < to_timestamp(%s)",
            (result["window"]["start"], result["window"]["end"]))[0]["n"]
        result["turns_committed_per_s"] = result["turns_committed_in_window"] / args.seconds
        result.update(e2e.turn_summary(db_url))
        result["outbox"] = e2e.outbox_summary(db_url)
        result["logs"] = e2e.scan_logs([serve.log_path])
        result["log_dir"] = str(h.workdir) if args.keep_logs else None
        return result


class ProfileRequest:
    """py-spy over the Switchboard process tree for the measured window (diagnostics)."""

    def __init__(self, path: Path, pid: int, seconds: float):
        self.path, self.pid, self.seconds = path, pid, seconds
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [str(e2e.BIN / "py-spy"), "record", "--pid", str(self.pid), "--subprocesses",
             "--nonblocking", "--gil", "-r", "100", "-d", str(int(self.seconds)), "-f", "raw", "-o",
             str(self.path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def summary(self, top: int = 15) -> dict[str, Any]:
        if self.process:
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return summarise_profile(self.path, top)


FRAME = re.compile(r"\(([^():]+?)(?:\.py)?:\d+\)$")
OURS = ("graph", "nodes", "server", "tools", "knowledge")
GROUPS = {
    "outbound HTTP clients (openai, httpx/httpx2, httpcore/2, h11, anyio, pywa)": (
        "openai", "httpx", "httpx2", "httpcore", "httpcore2", "h11", "anyio", "pywa", "pywa_async",
        "sniffio"),
    "LangGraph/LangChain": ("pregel", "langgraph", "langchain_core", "langchain_openai", "channels",
                            "_internal", "checkpoint", "serde", "langsmith"),
    "psycopg (Postgres client)": ("psycopg", "psycopg_pool"),
    "asyncio and threads": ("asyncio", "concurrent", "uvloop", "selectors", "threading", "contextlib"),
    "ours (server, nodes, graph, tools, knowledge)": OURS,
    "HTTP server (uvicorn, starlette, fastapi)": ("uvicorn", "starlette", "fastapi"),
    "pydantic": ("pydantic", "pydantic_core"),
    "json, logging": ("json", "logging"),
    "redis-py": ("redis",),
    "Chroma, WordLlama, numpy": ("chromadb", "wordllama", "numpy"),
}


def summarise_profile(path: Path, top: int) -> dict[str, Any]:
    """Share of samples by the package of the innermost frame (py-spy's raw lines are
    `process;frame;frame ... count`, each frame `function (package/module.py:line)`), and
    by the outermost module of ours on the stack."""
    totals: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    samples = 0
    with contextlib.suppress(OSError), path.open() as lines:
        for line in lines:
            stack, _, count = line.rstrip().rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            samples += n
            paths = [m.group(1) for m in (FRAME.search(f) for f in stack.split(";")[1:]) if m]
            totals[paths[-1].split("/")[0] if paths else "?"] += n
            mine = [p for p in paths if p.split("/")[0] in OURS]
            # the outermost module of ours below the CLI and the server loop
            entry = next((p for p in mine if not p.startswith("server/cli/")), None)
            ours[entry or "(none of ours)"] += n
    share = lambda c: {k: round(100 * v / samples, 1) for k, v in c.most_common(top)}  # noqa: E731
    groups: collections.Counter[str] = collections.Counter()
    for library, n in totals.items():
        groups[next((g for g, members in GROUPS.items() if library in members), "other")] += n
    return {"samples": samples, "file": str(path),
            "by_group": share(groups) if samples else {},
            "by_library": share(totals) if samples else {},
            "entry_module_of_ours": share(ours) if samples else {}}


async def load(args: argparse.Namespace, run: str, processes: int, server_url: str,
               fake_url: str, meter: e2e.CpuMeter,
               profiler: ProfileRequest | None = None) -> dict[str, Any]:
    prefix = e2e.phone_prefix()
    idle = collections.deque(f"{prefix}{i:05d}" for i in range(args.conversations))
    mix = e2e.parse_mix(args.mix)
    replies = e2e.Replies()
    records = e2e.FakeRecords(fake_url, replies.on_send).start()
    done: list[e2e.Sent] = []
    counter = iter(range(10**9))
    stop = asyncio.Event()

    async with e2e.WebhookClient(f"{server_url}/webhooks/meta", max_connections=args.in_flight) as client:
        async def customer_slot() -> None:
            while not stop.is_set():
                phone, i = idle.popleft(), next(counter)
                kind = mix[i % len(mix)]
                message_id = f"wamid.TP{run}.{i}"
                sent = e2e.Sent(phone, message_id, kind, time.time())
                body = e2e.text_webhook(phone, e2e.MESSAGES[kind][0], message_id, int(sent.sent_at))
                sent.sent_at = time.time()
                await e2e.converse_once(client, replies, sent, body, args.reply_timeout, retry=True)
                done.append(sent)
                if not sent.timed_out:  # a late reply would be taken for the next message's
                    idle.append(phone)

        e2e.log(f"{processes} process(es): load with {args.in_flight} in flight over"
                f" {args.conversations} conversations; warm-up {args.warmup:.0f} s")
        slots = [asyncio.create_task(customer_slot()) for _ in range(args.in_flight)]
        await asyncio.sleep(args.warmup)
        before, start = meter.snapshot(), time.time()
        if profiler:
            profiler.start()
        await asyncio.sleep(args.seconds)
        after, end = meter.snapshot(), time.time()
        stop.set()
        e2e.log(f"window over; waiting for the {len(replies.waiting)} message(s) in flight")
        await asyncio.gather(*slots)
        await asyncio.sleep(1.0)
        await records.stop()

    in_window = [s for s in done if start <= s.sent_at < end]
    replied_in_window = [s for s in done if s.reply_at is not None and start <= s.reply_at < end]
    turns = len(replied_in_window)
    cpu = e2e.CpuMeter.delta(before, after)
    acked = [s for s in done if s.status == "200"]
    lost = [s for s in acked if s.reply_at is None]
    return {
        "processes": processes,
        "window": {"start": start, "end": end, "seconds": end - start},
        "turns_in_window": turns,
        "turns_per_s": turns / (end - start),
        "latency_s": e2e.summarise(s.latency for s in in_window if s.latency is not None),
        "latency_by_kind_s": e2e.latency_by_kind(in_window),
        "cpu": cpu,
        "cpu_ms_per_turn": {k: 1000 * v / turns if turns else None for k, v in cpu["cpu_s"].items()},
        "messages_sent": len(done), "acknowledged": len(acked),
        "webhook_statuses": dict(client.statuses),
        "lost": len(lost), "lost_sample": [s.message_id for s in lost[:5]],
        "timed_out": sum(s.timed_out for s in done),
        "unexpected_sends": len(replies.unexpected),
        "fake": {k: v for k, v in records.latest.items() if k != "sent"},
    }


def print_result(r: dict[str, Any]) -> None:
    print(f"\nserve --processes {r['processes']}: {r['turns_per_s']:.1f} turns/s end to end"
          f" ({r['turns_in_window']} replies in {r['window']['seconds']:.1f} s);"
          f" turns committed in Postgres {r['turns_committed_per_s']:.1f}/s")
    print(f"  latency webhook -> reply at the fake: {e2e.fmt_latency(r['latency_s'])}")
    for kind, s in sorted(r["latency_by_kind_s"].items()):
        print(f"    {kind:9s} {e2e.fmt_latency(s)}")
    print("  CPU per turn (ms) and cores busy:")
    for name, ms in r["cpu_ms_per_turn"].items():
        cores = r["cpu"]["cores"][name]
        print(f"    {name:45s} {ms if ms is None else round(ms, 2)!s:>8} ms   {cores:.2f} cores")
    print(f"  sent {r['messages_sent']}, acknowledged {r['acknowledged']}, webhook statuses"
          f" {r['webhook_statuses']}, lost {r['lost']}, timed out {r['timed_out']},"
          f" sends for nobody waiting {r['unexpected_sends']}")
    print(f"  turns: {r['turn_outcomes']}, messages per turn {r['messages_per_turn']}")
    print(f"  inbox: {r['inbox_states']}; outbox: {r['outbox']}")
    print(f"  fake: {r['fake']}")
    e2e.print_log_scan(r["logs"])
    if "profile" in r:
        p = r["profile"]
        print(f"  py-spy ({p['samples']} samples with the GIL held, {p['file']}):")
        print(f"    % by group of the innermost frame's package: {p['by_group']}")
        print(f"    % by package of the innermost frame: {p['by_library']}")
        print(f"    % by the outermost module of ours on the stack: {p['entry_module_of_ours']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", default="1,2",
                        help="comma-separated `serve --processes` values, each run from scratch")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--in-flight", type=int, default=200,
                        help="customers with a message waiting at any time (closed loop)")
    parser.add_argument("--conversations", type=int, default=1500, help="distinct customer numbers")
    parser.add_argument("--debounce-s", type=float, default=0.2, help="DEBOUNCE_S for the server")
    parser.add_argument("--mix", default="policy:3,greeting:1,order:1",
                        help=f"message kinds and weights; kinds: {', '.join(e2e.MESSAGES)}")
    parser.add_argument("--model-delay", type=float, default=0.0, help="model stub delay, s")
    parser.add_argument("--reply-timeout", type=float, default=120.0)
    parser.add_argument("--worker-concurrency", type=int, default=None,
                        help="WORKER__CONCURRENCY (default: the product's)")
    parser.add_argument("--database-url", default=e2e.DEFAULT_DATABASE_URL,
                        help="server on which a run database is created and dropped")
    parser.add_argument("--py-spy", type=Path, metavar="DIR",
                        help="diagnostics: profile the server processes during the window")
    e2e.add_run_arguments(parser)
    args = parser.parse_args()
    if args.conversations <= args.in_flight:
        parser.error("--conversations must be larger than --in-flight")

    run = e2e.run_id()
    result: dict[str, Any] = {"benchmark": "turn_throughput", "run": run,
                              "machine": e2e.machine_info(),
                              "settings": {k: v for k, v in vars(args).items() if k != "json"},
                              "target_turns_per_s": TARGET_TURNS_PER_S, "configurations": []}
    try:
        for processes in [int(p) for p in args.processes.split(",")]:
            r = run_configuration(args, processes, run)
            result["configurations"].append(r)
            print_result(r)
    finally:
        if result["configurations"]:
            best = max(result["configurations"], key=lambda r: r["turns_per_s"])
            result["best_turns_per_s"] = best["turns_per_s"]
            result["target_met"] = best["turns_per_s"] >= TARGET_TURNS_PER_S
            print(f"\ntarget >= {TARGET_TURNS_PER_S:.0f} turns/s: "
                  f"{'MET' if result['target_met'] else 'NOT MET'} (best {best['turns_per_s']:.1f}"
                  f" turns/s with serve --processes {best['processes']})")
        write_json(args.json, result)


def write_json(path: Path | None, result: dict[str, Any]) -> None:
    e2e.write_json(path, result)


if __name__ == "__main__":
    main()
