"""Shared machinery for the end-to-end benchmarks: processes, signing, waiting, accounting.

Used by benchmarks/turn_throughput.py, concurrency.py, chaos.py and turn_cost.py. Every part
of the path runs as its own OS process, started (and always stopped) from here:

- **Switchboard**: `.venv/bin/switchboard serve --processes N [--no-worker]` and/or
  `.venv/bin/switchboard worker --processes N`, configured only through environment
  variables (DATABASE_URL, REDIS_URL, DATA_DIR, PORT, DEBOUNCE_S, ROUTER__*, AGENT__*,
  META__GRAPH_URL, ...), each started in a session of its own so that its whole process
  tree can be signalled and accounted for.
- **Model stub**: `python -m tests.model_stub --port P --delay D` (OpenAI-compatible; the
  offline brain's decisions, answered after D seconds).
- **Fake WhatsApp Cloud API**: `python benchmarks/e2e_harness.py fake ...` (this file), which
  runs `server.simulator.fake_cloud_api.FakeCloudApi` unchanged (Meta's answers, signed
  status webhooks sent/delivered/read echoing `biz_opaque_callback_data`, retried when
  refused) and adds one read-only route, `GET /__bench/records?since=N`, listing every
  message it accepted (fake-side receive time, recipient, type, the outbox id it carried).
  The receive time is taken in the fake's process with `time.time()` when the send arrives,
  so latencies are "webhook sent by the load generator -> reply received by the fake", and
  polling the route costs the measurement nothing but the poll itself.
- **Redis**: a private `redis-server --save "" --appendonly no` on a free port, per run (it
  can be killed and restarted empty: chaos).
- **PostgreSQL**: either a fresh database created for the run on a given server (dropped at
  the end), or a private server (`initdb` + `pg_ctl` of the system's PostgreSQL, run as the
  `postgres` OS user when this runs as root) in a temporary directory that can be restarted
  without disturbing anyone; never the machine's shared server's processes.

`Harness` owns a temporary directory and a stack of clean-ups that runs on normal exit,
on an exception, on Ctrl-C and on SIGTERM/SIGHUP: every process group is stopped (SIGINT, then
SIGKILL), private servers are stopped, run databases dropped and the directory deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BIN = Path(sys.executable).parent
PYTHON = sys.executable
APP_SECRET = "bench-app-secret"
ACCESS_TOKEN = "bench-access-token"
PHONE_NUMBER_ID = "100000000000001"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test_bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
        return True
    return False


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(min(rank, len(sorted_values))) - 1]


def summarise(values: Iterable[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {"n": len(ordered), "mean": statistics.fmean(ordered), "p50": percentile(ordered, 50),
            "p90": percentile(ordered, 90), "p95": percentile(ordered, 95),
            "p99": percentile(ordered, 99), "max": ordered[-1], "min": ordered[0]}


def latency_by_kind(sent: Iterable[Any]) -> dict[str, dict[str, float]]:
    """Reply latency summarised per message kind, over messages that got a reply."""
    kinds: dict[str, list[float]] = {}
    for s in sent:
        if s.latency is not None:
            kinds.setdefault(s.kind, []).append(s.latency)
    return {kind: summarise(values) for kind, values in kinds.items()}


def fmt_latency(s: dict[str, float], unit: str = "s", digits: int = 2) -> str:
    if not s.get("n"):
        return "no samples"
    return (f"p50 {s['p50']:.{digits}f}{unit}  p95 {s['p95']:.{digits}f}{unit}  p99 "
            f"{s['p99']:.{digits}f}{unit}  max {s['max']:.{digits}f}{unit}  (n={s['n']})")


def machine_info() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "load_average_at_start": os.getloadavg(),
            "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def write_json(path: Path | None, result: dict[str, Any]) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, default=str))
        log(f"figures written to {path}")


def run_id() -> str:
    return uuid.uuid4().hex[:8]


def phone_prefix() -> str:
    """Customer numbers unique to a run: 99 + 5 random digits (+ 5 digits per conversation)."""
    return f"99{random.randrange(10**5):05d}"


# --------------------------------------------------------------------------------------------
# Clean-up: one stack per run, run on exit, exception, Ctrl-C, SIGTERM or SIGHUP
# --------------------------------------------------------------------------------------------

class Interrupted(BaseException):
    """Raised by the SIGTERM/SIGHUP handler so that every `finally` runs."""


class Harness:
    """A run's temporary directory and its clean-ups (last registered runs first)."""

    def __init__(self, prefix: str, keep: bool = False):
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
        self.keep = keep
        self._cleanups: list[tuple[str, Callable[[], None]]] = []
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Harness:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._previous[sig] = signal.signal(sig, self._interrupt)
        return self

    @staticmethod
    def _interrupt(signum: int, _frame: object) -> None:
        raise Interrupted(f"signal {signum}")

    def on_exit(self, name: str, callback: Callable[[], None]) -> None:
        self._cleanups.append((name, callback))

    def cleanup(self) -> None:
        # Signals must not cut a clean-up short.
        for sig in self._previous:
            signal.signal(sig, signal.SIG_IGN)
        while self._cleanups:
            name, callback = self._cleanups.pop()
            try:
                callback()
            except BaseException as error:  # noqa: BLE001 - keep cleaning up
                print(f"clean-up of {name} failed: {error!r}", file=sys.stderr)
        if self.keep:
            log(f"kept logs in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------

@dataclass
class Service:
    """A process (and its descendants) started in a session of its own."""

    name: str
    process: subprocess.Popen
    log_path: Path
    port: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def stop(self, timeout_s: float = 25.0) -> None:
        """SIGINT to the whole group (uvicorn and the supervisor stop their children), then
        SIGKILL whatever is left of it."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout_s)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


def start(h: Harness, name: str, command: list[str], env: dict[str, str] | None = None,
          port: int | None = None) -> Service:
    log_path = h.workdir / f"{name}.log"
    with log_path.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
    service = Service(name, process, log_path, port)
    h.on_exit(name, service.stop)
    return service


def wait_until(check: Callable[[], bool], timeout_s: float, what: str,
               service: Service | None = None, every_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if service is not None and not service.alive():
            raise RuntimeError(f"{service.name} exited while waiting for {what}:\n{service.tail()}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(every_s)
    tail = f":\n{service.tail()}" if service else ""
    raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}{tail}")


def http_ok(url: str, timeout_s: float = 3.0) -> bool:
    import urllib.request

    with contextlib.suppress(Exception), urllib.request.urlopen(url, timeout=timeout_s) as response:
        return response.status == 200
    return False


def tree(pid: int) -> list[Any]:
    """psutil processes: pid and its live descendants."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def wait_quiet(pids: Callable[[], list[int]], timeout_s: float, below_cores: float = 0.3,
               for_s: float = 2.0) -> float:
    """Wait until the processes' CPU use stays under `below_cores` for `for_s` (start-up of
    every child done: imports, Chroma, the embedding model); returns the wait."""
    started = time.monotonic()
    quiet_since = None
    before = sum(proc_cpu(p) for p in pids())
    t_before = time.monotonic()
    while time.monotonic() - started < timeout_s:
        time.sleep(0.5)
        now = sum(proc_cpu(p) for p in pids())
        t_now = time.monotonic()
        cores = (now - before) / (t_now - t_before)
        before, t_before = now, t_now
        if cores < below_cores:
            quiet_since = quiet_since or t_now
            if t_now - quiet_since >= for_s:
                break
        else:
            quiet_since = None
    return time.monotonic() - started


# --------------------------------------------------------------------------------------------
# CPU and memory accounting
# --------------------------------------------------------------------------------------------

def _stat_fields(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def proc_cpu(pid: int, children: bool = True) -> float:
    """CPU seconds of a process, plus (with `children`) those of its children that exited and
    were waited for (cutime/cstime): summed over a live tree, every process that ever ran in
    it is counted exactly once, killed and restarted workers included."""
    fields = _stat_fields(pid)
    if not fields:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def tree_cpu(pid: int | None) -> float:
    return sum(proc_cpu(p.pid) for p in tree(pid)) if pid else 0.0


def tree_rss(pid: int | None) -> tuple[int, dict[int, int]]:
    """(sum of RSS bytes, per-pid RSS) over a live process tree."""
    per: dict[int, int] = {}
    for p in tree(pid) if pid else []:
        with contextlib.suppress(OSError, ValueError, IndexError):
            per[p.pid] = int(Path(f"/proc/{p.pid}/statm").read_text().split()[1]) * PAGE
    return sum(per.values()), per


def machine_busy() -> float:
    """Busy CPU seconds summed over all cores (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / CLK_TCK


def self_cpu() -> float:
    t = os.times()
    return t.user + t.system


class CpuMeter:
    """CPU seconds per group between two snapshots. `groups` maps a name to a function that
    returns the group's cumulative CPU seconds now."""

    def __init__(self, groups: dict[str, Callable[[], float]]):
        self.groups = groups

    def snapshot(self) -> dict[str, float]:
        out = {name: fn() for name, fn in self.groups.items()}
        out["machine (all processes)"] = machine_busy()
        out["wall"] = time.monotonic()
        return out

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
        wall = after["wall"] - before["wall"]
        seconds = {k: after[k] - before[k] for k in before if k != "wall"}
        named = sum(v for k, v in seconds.items() if k != "machine (all processes)"
                    and not k.startswith("postgres (whole server"))
        seconds["other (rest of machine)"] = seconds["machine (all processes)"] - named
        return {"wall_s": wall, "cpu_s": seconds,
                "cores": {k: v / wall for k, v in seconds.items()}}


class RssSampler:
    """Samples the RSS of process trees every `every_s` in a thread; keeps the peak of each
    tree's sum and each process's peak."""

    def __init__(self, roots: Callable[[], list[int]], every_s: float = 0.5):
        self.roots, self.every_s = roots, every_s
        self.peak_total = 0
        self.peak_per_pid: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()

    def sample(self) -> None:
        total = 0
        for root in self.roots():
            subtotal, per = tree_rss(root)
            total += subtotal
            for pid, rss in per.items():
                self.peak_per_pid[pid] = max(self.peak_per_pid.get(pid, 0), rss)
        self.peak_total = max(self.peak_total, total)

    def __enter__(self) -> RssSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)

    def report(self) -> dict[str, Any]:
        per = sorted(self.peak_per_pid.values(), reverse=True)
        return {"peak_total_mib": self.peak_total / 2**20,
                "peak_largest_process_mib": (per[0] / 2**20) if per else 0.0,
                "processes_seen": len(per)}


# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------

class PrivateRedis:
    """A redis-server of this run's own, without persistence: a restart loses every key."""

    def __init__(self, h: Harness, binary: str = "/usr/bin/redis-server"):
        self.h, self.binary = h, binary if Path(binary).exists() else (shutil.which("redis-server") or binary)
        self.port = free_port()
        self.service: Service | None = None
        self.restarts = 0
        self._earlier_cpu = 0.0
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.service.pid if self.service else None

    def start(self) -> None:
        name = "redis" if not self.restarts else f"redis-{self.restarts}"
        log_path = self.h.workdir / f"{name}.log"
        with log_path.open("ab") as out:
            process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        first = self.service is None
        self.service = Service(name, process, log_path, self.port)
        if first:  # one clean-up for whichever server is current, in the place of the first
            self.h.on_exit("redis", lambda: self.service.stop())
        wait_until(lambda: port_open(self.port), 20, "redis", self.service, every_s=0.05)

    def cpu(self) -> float:
        """CPU of the current server plus every earlier one (they are gone: kept as counted)."""
        return self._earlier_cpu + (proc_cpu(self.pid) if self.pid else 0.0)

    def restart_losing_data(self, down_s: float = 1.0) -> float:
        """kill -9 and start an empty one on the same port; returns the seconds it was away."""
        assert self.service is not None
        self._earlier_cpu += proc_cpu(self.service.pid)
        began = time.monotonic()
        os.kill(self.service.pid, signal.SIGKILL)
        self.service.process.wait(10)
        time.sleep(down_s)
        self.restarts += 1
        self.start()
        return time.monotonic() - began


# --------------------------------------------------------------------------------------------
# PostgreSQL: a run database on a given server, or a private server
# --------------------------------------------------------------------------------------------

def with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def postmaster_pid(url: str) -> int | None:
    import psycopg

    with contextlib.suppress(Exception), psycopg.connect(url, connect_timeout=3) as conn:
        data_directory = conn.execute("SHOW data_directory").fetchone()[0]
        return int((Path(data_directory) / "postmaster.pid").read_text().split()[0])
    return None


def create_run_database(h: Harness, server_url: str, name: str) -> str:
    """CREATE DATABASE name on the server of `server_url`; dropped (WITH FORCE) at clean-up."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    h.on_exit(f"database {name}", drop)
    return with_database(server_url, name)


def backend_pids(url: str) -> list[int]:
    """Postgres backends connected to the database of `url` (not this query's own)."""
    import psycopg

    with contextlib.suppress(Exception), psycopg.connect(url, connect_timeout=3) as conn:
        return [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()").fetchall()]
    return []


class BackendCpu:
    """Cumulative CPU of one database's backends: polled, so that a backend that exits
    between snapshots keeps what it had used when last seen."""

    def __init__(self, url: str):
        self.url = url
        self.seen: dict[int, float] = {}

    def __call__(self) -> float:
        for pid in backend_pids(self.url):
            self.seen[pid] = max(self.seen.get(pid, 0.0), proc_cpu(pid, children=False))
        return sum(self.seen.values())


def _pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if candidates:
        return candidates[-1].parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl) found: apt-get install postgresql")


class PrivatePostgres:
    """A PostgreSQL server of this run's own (the system's binaries, `initdb` in a temporary
    directory, TCP on 127.0.0.1:<free port>, trust auth), restartable at will. As root it runs
    as the `postgres` OS user (initdb refuses root)."""

    def __init__(self, h: Harness, max_connections: int = 200):
        self.h, self.bin = h, _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.data = self.dir / "data"
        self.logfile = self.dir / "postgres.log"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        h.on_exit("private postgres", self.destroy)
        if self.user:
            shutil.chown(self.dir, self.user, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--no-sync")
        self.options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir}"
                        f" -c max_connections={max_connections} -c shared_buffers=128MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", self.options,
                  "-w", "-t", "60", "start")
        self.restarts = 0
        self._earlier_cpu = 0.0

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, cwd=self.dir)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data / "postmaster.pid").read_text().split()[0])
        return None

    def cpu(self) -> float:
        return self._earlier_cpu + tree_cpu(self.pid)

    def restart(self, mode: str = "fast") -> float:
        """pg_ctl restart -m mode (fast: sessions are disconnected, clean shutdown;
        immediate: like a crash, recovery on start); returns the seconds it took."""
        self._earlier_cpu += tree_cpu(self.pid)
        began = time.monotonic()
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", self.options,
                  "-m", mode, "-w", "-t", "120", "restart")
        self.restarts += 1
        return time.monotonic() - began

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The model stub, the fake Cloud API and Switchboard
# --------------------------------------------------------------------------------------------

def start_model_stub(h: Harness, delay_s: float, jitter_s: float = 0.0) -> Service:
    port = free_port()
    service = start(h, "model-stub", [PYTHON, "-m", "tests.model_stub", "--port", str(port),
                                      "--delay", str(delay_s), "--jitter", str(jitter_s)], port=port)
    wait_until(lambda: port_open(port), 120, "the model stub", service)
    return service


def start_fake(h: Harness, webhook_url: str, status_delay_s: float = 0.25,
               webhook_retry_s: float = 120.0) -> Service:
    port = free_port()
    service = start(h, "fake-cloud-api", [
        PYTHON, str(Path(__file__).resolve()), "fake", "--port", str(port),
        "--webhook-url", webhook_url, "--app-secret", APP_SECRET, "--access-token", ACCESS_TOKEN,
        "--phone-number-id", PHONE_NUMBER_ID, "--status-delay-s", str(status_delay_s),
        "--webhook-retry-s", str(webhook_retry_s)], port=port)
    wait_until(lambda: http_ok(f"{service.url}/__bench/records?since=0"), 120,
               "the fake Cloud API", service)
    return service


def switchboard_env(*, database_url: str, redis_url: str, data_dir: Path, port: int,
                    model_url: str | None, graph_url: str, debounce_s: float,
                    extra: dict[str, Any] | None = None) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "DATA_DIR": str(data_dir),
        "HOST": "127.0.0.1", "PORT": str(port), "DEBOUNCE_S": str(debounce_s),
        "META__GRAPH_URL": graph_url, "META__APP_SECRET": APP_SECRET,
        "META__ACCESS_TOKEN": ACCESS_TOKEN, "META__PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "META__VERIFY_TOKEN": "bench-verify-token",  # no published default with a real channel
        "ANONYMIZED_TELEMETRY": "False", "PYTHONUNBUFFERED": "1",
    }
    if model_url:
        for role in ("ROUTER", "AGENT"):
            env.update({f"{role}__MODEL": "stub", f"{role}__BASE_URL": model_url,
                        f"{role}__API_KEY": "bench"})
    for key, value in (extra or {}).items():
        if value is not None:
            env[key] = str(value)
    return env


@dataclass
class Stack:
    """Switchboard serving on a run database, with a private Redis, the model stub and the fake."""

    db_url: str
    redis: PrivateRedis
    stub: Service
    fake: Service
    serve: Service
    meter: CpuMeter


def start_stack(h: Harness, *, database_url: str, db_name: str, model_delay: float,
                debounce_s: float, processes: int, extra: dict[str, Any]) -> Stack:
    """A run database on `database_url`'s server, Redis, stub and fake, then `switchboard serve
    --processes N` pointed at them, and a CPU meter over every process group."""
    db_url = create_run_database(h, database_url, db_name)
    redis = PrivateRedis(h)
    stub = start_model_stub(h, model_delay)
    port = free_port()
    fake = start_fake(h, f"http://127.0.0.1:{port}/webhooks/meta")
    env = switchboard_env(database_url=db_url, redis_url=redis.url, data_dir=h.workdir / "data",
                          port=port, model_url=f"{stub.url}/v1", graph_url=fake.url,
                          debounce_s=debounce_s, extra=extra)
    serve = start_serve(h, env, processes)
    postmaster = postmaster_pid(db_url)
    meter = CpuMeter({
        "switchboard (serve, all processes)": lambda: tree_cpu(serve.pid),
        "postgres (run database's backends)": BackendCpu(db_url),
        "postgres (whole server, incl. other users)": lambda: tree_cpu(postmaster),
        "redis": redis.cpu,
        "model stub": lambda: tree_cpu(stub.pid),
        "fake cloud api": lambda: tree_cpu(fake.pid),
        "load generator (this process)": self_cpu,
    })
    return Stack(db_url, redis, stub, fake, serve, meter)


def python_children(pid: int) -> list[int]:
    return [p.pid for p in tree(pid)[1:] if "python" in (p.name() or "").lower()
            or any("python" in part for part in (p.cmdline() or [])[:1])]


def start_serve(h: Harness, env: dict[str, str], processes: int = 1, worker: bool = True,
                name: str = "serve", timeout_s: float = 300) -> Service:
    """`switchboard serve --processes N [--no-worker]`; returns once /readyz answers and every
    process has finished starting (its CPU use has settled)."""
    command = [str(BIN / "switchboard"), "serve", "--processes", str(processes)]
    if not worker:
        command.append("--no-worker")
    port = int(env["PORT"])
    service = start(h, name, command, env, port=port)
    began = time.monotonic()
    wait_until(lambda: http_ok(f"{service.url}/readyz"), timeout_s, f"{name} /readyz", service, 0.5)
    if processes > 1:
        wait_until(lambda: len(worker_like_children(service.pid)) >= processes, 60,
                   f"{processes} {name} processes", service)
    wait_quiet(lambda: [p.pid for p in tree(service.pid)], 120)
    log(f"{name}: {processes} process(es){'' if worker else ' (HTTP only)'} ready on :{port}"
        f" after {time.monotonic() - began:.0f} s")
    return service


def worker_like_children(pid: int) -> list[int]:
    """Children that are a server or worker process: multiprocessing-spawned, not the
    resource tracker."""
    out = []
    for p in tree(pid)[1:]:
        with contextlib.suppress(Exception):
            line = " ".join(p.cmdline())
            if "spawn_main" in line and "resource_tracker" not in line:
                out.append(p.pid)
    return out


def start_worker(h: Harness, env: dict[str, str], processes: int, name: str = "worker",
                 timeout_s: float = 300) -> Service:
    """`switchboard worker --processes N`; returns once N processes said they run."""
    service = start(h, name, [str(BIN / "switchboard"), "worker", "--processes", str(processes)], env)
    began = time.monotonic()
    wait_until(lambda: service.log_path.read_text(errors="replace").count("worker running (pid")
               >= processes, timeout_s, f"{processes} worker process(es)", service, 0.5)
    wait_quiet(lambda: [p.pid for p in tree(service.pid)], 120)
    log(f"{name}: {processes} process(es) running after {time.monotonic() - began:.0f} s")
    return service


# --------------------------------------------------------------------------------------------
# Webhooks: building, signing, sending
# --------------------------------------------------------------------------------------------

def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """X-Hub-Signature-256 over the exact body bytes (as tests/channels_helpers.sign_meta)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def text_webhook(phone: str, text: str, message_id: str, timestamp: int) -> bytes:
    """A Meta webhook carrying one inbound text message, as exact bytes."""
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "200000000000001", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Bench Customer"}, "wa_id": phone}],
            "messages": [{"from": phone, "id": message_id, "timestamp": str(timestamp),
                          "type": "text", "text": {"body": text}}]}}]}]}
    return json.dumps(payload, separators=(",", ":")).encode()


class WebhookClient:
    """Posts signed webhooks to Switchboard over keep-alive connections (aiohttp). With
    `retry`, a webhook that is not answered 200 is sent again with growing pauses, as Meta
    does, until `give_up_s`."""

    def __init__(self, url: str, max_connections: int = 128, timeout_s: float = 10.0):
        self.url, self.max_connections, self.timeout_s = url, max_connections, timeout_s
        self.statuses: Counter[str] = Counter()
        self.session = None

    async def __aenter__(self) -> WebhookClient:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=self.max_connections, ttl_dns_cache=None)
        self.session = aiohttp.ClientSession(connector=connector,
                                             timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    async def post_once(self, body: bytes) -> str:
        try:
            async with self.session.post(self.url, data=body, headers={
                    "content-type": "application/json", "x-hub-signature-256": sign(body)}) as response:
                await response.read()
                status = str(response.status)
        except Exception as error:  # noqa: BLE001 - counted and reported
            status = type(error).__name__
        self.statuses[status] += 1
        return status

    async def post(self, body: bytes, retry: bool = False, give_up_s: float = 600.0) -> tuple[str, int]:
        """(last status, attempts)."""
        attempts, pause, deadline = 0, 0.5, time.monotonic() + give_up_s
        while True:
            status, attempts = await self.post_once(body), attempts + 1
            if status == "200" or not retry or time.monotonic() > deadline:
                return status, attempts
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)


class FakeRecords:
    """Polls the fake's /__bench/records and hands every accepted send to `on_send`."""

    def __init__(self, fake_url: str, on_send: Callable[[dict], None] | None = None,
                 every_s: float = 0.05):
        self.url, self.on_send, self.every_s = f"{fake_url}/__bench/records", on_send, every_s
        self.sent: list[dict] = []
        self.latest: dict[str, Any] = {}
        self._task: asyncio.Task | None = None

    async def poll_once(self, session) -> int:
        async with session.get(self.url, params={"since": str(len(self.sent))}) as response:
            data = await response.json()
        self.latest = data
        for record in data["sent"]:
            self.sent.append(record)
            if self.on_send:
                self.on_send(record)
        return len(data["sent"])

    async def _run(self) -> None:
        import aiohttp

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while True:
                with contextlib.suppress(Exception):
                    await self.poll_once(session)
                await asyncio.sleep(self.every_s)

    def start(self) -> FakeRecords:
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        """A last complete poll, then stop."""
        import aiohttp

        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while await self.poll_once(session):
                pass


# --------------------------------------------------------------------------------------------
# Customers: what they write, and matching the fake's sends to the message waiting for them
# --------------------------------------------------------------------------------------------

MESSAGES = {
    # kind: (text, what the turn does with the offline brain's decisions behind the stub)
    "policy": ("how long do refunds take?", "router + retrieval + agent: 2 model calls"),
    "greeting": ("hi there", "router, canned reply: 1 model call"),
    "order": ("where is my order HP-10007?", "router, asks to verify first: 1 model call"),
}


def parse_mix(spec: str) -> list[str]:
    """"policy:3,greeting:1" -> a cycle of kinds with those weights."""
    cycle: list[str] = []
    for part in spec.split(","):
        kind, _, weight = part.partition(":")
        if kind not in MESSAGES:
            raise SystemExit(f"unknown message kind {kind!r}; known: {', '.join(MESSAGES)}")
        cycle += [kind] * int(weight or 1)
    return cycle


@dataclass
class Sent:
    """One customer message and what became of it (times are time.time(), shared by every
    process on the machine; reply_at is taken in the fake's process)."""

    phone: str
    message_id: str
    kind: str
    sent_at: float
    acked_at: float = 0.0
    status: str = ""
    attempts: int = 0
    reply_at: float | None = None
    reply_outbox_id: str | None = None
    timed_out: bool = False

    @property
    def latency(self) -> float | None:
        return None if self.reply_at is None else self.reply_at - self.sent_at


@dataclass
class Replies:
    """Each waiting customer has one message in flight (they wait for the reply before
    writing again), so the next text or template the fake accepts for that number is its
    reply. Sends for nobody waiting are kept as `unexpected` (a second part of a long reply,
    a late reply after a time-out, or a duplicate)."""

    waiting: dict[str, tuple[Sent, asyncio.Future]] = field(default_factory=dict)
    unexpected: list[dict] = field(default_factory=list)
    read_receipts: int = 0

    def expect(self, sent: Sent) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiting[sent.phone] = (sent, future)
        return future

    def forget(self, phone: str) -> None:
        self.waiting.pop(phone, None)

    def on_send(self, record: dict) -> None:
        if record["type"] not in ("text", "template"):
            return
        entry = self.waiting.pop(record["to"], None)
        if entry is None:
            self.unexpected.append(record)
            return
        sent, future = entry
        sent.reply_at, sent.reply_outbox_id = record["at"], record["outbox_id"]
        if not future.done():
            future.set_result(sent)


async def converse_once(client: WebhookClient, replies: Replies, sent: Sent, body: bytes,
                        timeout_s: float, retry: bool = False) -> Sent:
    """Send one message and wait for its reply (or time out)."""
    future = replies.expect(sent)
    sent.status, sent.attempts = await client.post(body, retry=retry)
    sent.acked_at = time.time()
    if sent.status != "200":
        replies.forget(sent.phone)
        return sent
    try:
        await asyncio.wait_for(asyncio.shield(future), timeout_s)
    except TimeoutError:
        sent.timed_out = True
        replies.forget(sent.phone)
    return sent


# --------------------------------------------------------------------------------------------
# Database checks and server logs
# --------------------------------------------------------------------------------------------

def query(url: str, sql: str, params: Any = None) -> list[dict]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, autocommit=True, connect_timeout=5, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


STAGES_SQL = """
SELECT extract(epoch FROM rr.created_at - m.received_at) AS waiting,
       extract(epoch FROM t.committed_at - rr.created_at) AS turn,
       extract(epoch FROM o.sent_at - t.committed_at) AS sending
FROM turns t
JOIN LATERAL (SELECT max(received_at) AS received_at FROM inbound_messages
              WHERE turn_key = t.turn_key) m ON true
JOIN outbox o ON o.idempotency_key = t.turn_key || ':0' AND o.sent_at IS NOT NULL
JOIN outbox rr ON rr.kind = 'read_receipt' AND rr.conversation_key = t.conversation_key
     AND rr.created_at BETWEEN m.received_at AND t.committed_at
"""


def stage_breakdown(url: str) -> dict[str, dict[str, float]]:
    """Where a reply's time goes, per turn, from the database's own timestamps: waiting
    (the last message stored -> its turn started: the debounce, then any queueing for a
    worker slot), turn (started -> committed: model calls and all), sending (committed ->
    the provider call returned)."""
    rows = query(url, STAGES_SQL)
    return {stage: summarise(float(r[stage]) for r in rows if r[stage] is not None)
            for stage in ("waiting", "turn", "sending")}


def turn_summary(url: str) -> dict[str, Any]:
    """How turns ended, messages per turn, and where the run's messages stand."""
    return {
        "turn_outcomes": {f"{r['outcome']}:{r['reason']}": r["n"] for r in query(
            url, "SELECT outcome, reason, count(*) AS n FROM turns GROUP BY 1, 2 ORDER BY 3 DESC")},
        "messages_per_turn": query(
            url, "SELECT avg(messages)::float AS avg, max(messages) AS max FROM turns")[0],
        "inbox_states": {r["state"]: r["n"] for r in query(
            url, "SELECT state, count(*) AS n FROM inbound_messages GROUP BY 1")},
    }


def outbox_summary(url: str) -> dict[str, Any]:
    rows = query(url, "SELECT kind, status, count(*) AS n, sum(attempts) AS attempts,"
                      " sum(resends) AS resends FROM outbox GROUP BY 1, 2 ORDER BY 1, 2")
    return {f"{r['kind']}:{r['status']}": {"rows": r["n"], "attempts": r["attempts"],
                                           "resends": r["resends"]} for r in rows}


LOG_LEVELS = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback \(most recent call last\)")
_NOISE = re.compile(r"\d+")


def scan_logs(paths: Iterable[Path], keep: int = 25) -> dict[str, Any]:
    """Count WARNING/ERROR/CRITICAL lines and tracebacks in server logs, with one example of
    each distinct message (digits blanked to group them)."""
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    kinds: Counter[str] = Counter()
    for path in paths:
        with contextlib.suppress(OSError):
            for line in path.read_text(errors="replace").splitlines():
                match = LOG_LEVELS.search(line)
                if not match:
                    continue
                level = match.group(1) or "Traceback"
                kinds[level] += 1
                message = line.split(": ", 1)[-1] if level != "Traceback" else line
                key = f"{level} {_NOISE.sub('#', message)[:160]}"
                counts[key] += 1
                examples.setdefault(key, f"{path.name}: {line[:400]}")
    top = [{"count": n, "example": examples[k]} for k, n in counts.most_common(keep)]
    return {"by_level": dict(kinds), "distinct": len(counts), "top": top}


def print_log_scan(scan: dict[str, Any], limit: int = 12) -> None:
    if not scan["by_level"]:
        print("  server logs: no WARNING, ERROR or traceback lines")
        return
    print(f"  server logs: {scan['by_level']} ({scan['distinct']} distinct messages)")
    for item in scan["top"][:limit]:
        print(f"    {item['count']:>5} x {item['example']}")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments every end-to-end benchmark takes."""
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL for the server")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temp dir with logs")
    parser.add_argument("--json", type=Path, help="write every figure to this file")


def report(args: argparse.Namespace, run: Callable[[argparse.Namespace], dict[str, Any]],
           show: Callable[[dict[str, Any]], None]) -> None:
    """Run the benchmark, print its result and write it to --json."""
    result = run(args)
    show(result)
    write_json(args.json, result)


# --------------------------------------------------------------------------------------------
# The fake Cloud API as a process (`python benchmarks/e2e_harness.py fake ...`)
# --------------------------------------------------------------------------------------------

def serve_fake(argv: list[str]) -> None:
    from starlette.responses import JSONResponse

    from server.simulator import fake_cloud_api

    args = fake_cloud_api.parse_args(argv, prog="e2e_harness.py fake")
    fake = fake_cloud_api.from_args(args)
    records: list[dict[str, Any]] = []
    counters: Counter[str] = Counter()

    def listen(event: str, record: dict[str, Any]) -> None:
        if event == "sent":
            records.append({"at": record["at"], "requested_at": record["requested_at"],
                            "to": record["to"], "type": record["type"], "id": record["id"],
                            "outbox_id": record.get("biz_opaque_callback_data"),
                            "text": (record.get("text") or "")[:160]})
            fake.sent.clear()  # the compact copy above is all a run needs
        else:
            counters["read_receipts"] += 1
            fake.read_receipts.clear()

    fake.listeners.append(listen)

    async def records_route(request) -> JSONResponse:  # a plain Starlette endpoint
        since = int(request.query_params.get("since", "0"))
        done = len(fake.webhooks)
        for hook in fake.webhooks[:done]:
            status = hook["http_status"]
            counters["webhooks"] += 1
            counters["webhooks_refused_finally" if not status or status >= 300 else "webhooks_ok"] += 1
            if hook["tries"] > 1:
                counters["webhooks_retried"] += 1
                counters["webhook_extra_tries"] += hook["tries"] - 1
        del fake.webhooks[:done]
        return JSONResponse({"sent": records[since:], "total": len(records), **counters,
                             "webhooks_in_flight": len(fake._tasks)})

    fake.app.router.add_route("/__bench/records", records_route, methods=["GET"])
    fake_cloud_api.serve(fake, args.host, args.port)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "fake":
        serve_fake(sys.argv[2:])
    else:
        print(__doc__)
