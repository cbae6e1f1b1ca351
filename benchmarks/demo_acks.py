"""Demo mode under load: does the simulator slow the webhook acknowledgements down?

    .venv/bin/python benchmarks/demo_acks.py [--rate 20] [--seconds 30] [--json PATH]

In demo mode (no channel configured) the fake WhatsApp Cloud API runs inside the server: every
reply the server sends is received by the fake in the same process, which then posts signed
`sent`, `delivered` and `read` status webhooks back to the server. The issue (A5) saw this starve
the acknowledgements of customer webhooks (p50 1.7 s, p90 8.5 s): the fake opened an HTTP client
per status webhook.

What runs: `switchboard serve` in demo mode (`META__GRAPH_URL` unset: the simulator and its fake
are mounted) on a run database and a private Redis, offline brain, `DEBOUNCE_S=0.5`. The load
generator (this process) sends --rate signed customer webhooks per second for --seconds, open
loop (each at its scheduled time, whatever the answers), every one from a customer of its own
("how long do refunds take?"), so every webhook becomes a turn, a read receipt, a reply and
three status webhooks. Reported: the acknowledgement latency of the customer webhooks (from
the scheduled send to the answer), the replies that reached the fake, and the same for a server
started with `--no-worker` (no turns, so no replies and no status webhooks: the bare cost of an
acknowledgement on this machine, for comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import e2e_harness as e2e  # noqa: E402

DEMO_SECRET = "simulator-app-secret"
"""The simulator's own app secret (demo mode signs with it)."""


def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = e2e.run_id()
    result: dict[str, Any] = {"benchmark": "demo_acks", "run": run_id, "machine": e2e.machine_info(),
                              "settings": {k: v for k, v in vars(args).items() if k != "json"},
                              "modes": {}}
    for mode, worker in (("demo mode, with turns and the in-process fake", True),
                         ("acknowledgements only (--no-worker)", False)):
        with e2e.Harness("demo-acks", keep=args.keep_logs) as h:
            db_url = e2e.create_run_database(h, args.database_url, f"bench_demo_{run_id}_{int(worker)}")
            redis = e2e.PrivateRedis(h)
            port = e2e.free_port()
            env = e2e.switchboard_env(database_url=db_url, redis_url=redis.url,
                                      data_dir=h.workdir / "data", port=port, model_url=None,
                                      graph_url="", debounce_s=0.5, extra={"LOG_LEVEL": args.log_level})
            for key in ("META__GRAPH_URL", "META__APP_SECRET", "META__ACCESS_TOKEN",
                        "META__VERIFY_TOKEN"):
                env.pop(key)  # demo mode: the simulator's own fake and secrets
            serve = e2e.start_serve(h, env, 1, worker=worker)
            acks = asyncio.run(load(args, run_id, serve.url, int(worker)))
            if worker:
                acks["replies_sent"] = e2e.query(
                    db_url, "SELECT count(*) AS n FROM outbox WHERE kind = 'text'"
                            " AND status IN ('sent', 'delivered', 'read')")[0]["n"]
                acks["statuses_applied"] = e2e.query(
                    db_url, "SELECT count(*) FILTER (WHERE status = 'read') AS n FROM outbox"
                            " WHERE kind = 'text'")[0]["n"]
            acks["logs"] = e2e.scan_logs([serve.log_path])
            result["modes"][mode] = acks
    return result


async def load(args: argparse.Namespace, run_id: str, url: str, salt: int) -> dict[str, Any]:
    import hashlib
    import hmac

    prefix = e2e.phone_prefix()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    async with e2e.WebhookClient(f"{url}/webhooks/meta", max_connections=256) as client:
        async def one(i: int, at: float) -> None:
            body = e2e.text_webhook(f"{prefix}{i:05d}", "how long do refunds take?",
                                    f"wamid.DEMO{run_id}.{salt}.{i}", int(time.time()))
            signature = "sha256=" + hmac.new(DEMO_SECRET.encode(), body, hashlib.sha256).hexdigest()
            try:
                async with client.session.post(f"{url}/webhooks/meta", data=body, headers={
                        "content-type": "application/json", "x-hub-signature-256": signature}) as r:
                    await r.read()
                    status = str(r.status)
            except Exception as error:  # noqa: BLE001 - counted
                status = type(error).__name__
            statuses[status] = statuses.get(status, 0) + 1
            latencies.append(time.monotonic() - at)

        start = time.monotonic() + 0.5
        tasks = []
        for i in range(int(args.rate * args.seconds)):
            at = start + i / args.rate
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            tasks.append(asyncio.create_task(one(i, at)))
        await asyncio.gather(*tasks)
    await asyncio.sleep(args.settle_s)  # replies and their statuses land
    return {"sent": len(tasks), "statuses": statuses, "ack_latency_s": e2e.summarise(latencies)}


def print_result(r: dict[str, Any]) -> None:
    s = r["settings"]
    print(f"\n{s['rate']:g} customer webhooks/s for {s['seconds']:g} s, open loop")
    for mode, m in r["modes"].items():
        print(f"  {mode}: sent {m['sent']}, answers {m['statuses']}")
        print(f"    ack latency: {e2e.fmt_latency(m['ack_latency_s'], unit='s', digits=3)}"
              f"  p90 {m['ack_latency_s'].get('p90', float('nan')):.3f}s")
        if "replies_sent" in m:
            print(f"    replies sent to the in-process fake: {m['replies_sent']}, read statuses"
                  f" applied: {m['statuses_applied']}")
        e2e.print_log_scan(m["logs"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="customer webhooks per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle-s", type=float, default=10.0)
    parser.add_argument("--database-url", default=e2e.DEFAULT_DATABASE_URL)
    e2e.add_run_arguments(parser)
    e2e.report(parser.parse_args(), run, print_result)


if __name__ == "__main__":
    main()
