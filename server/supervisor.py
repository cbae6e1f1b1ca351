"""`switchboard worker --processes N`: N worker processes on one machine, kept running.

One Python process is bound to one core, so a machine runs one worker process per core to use
them all. This parent only supervises: it starts the children, restarts one that dies (a
crash, an out-of-memory kill), and on SIGINT or SIGTERM asks each to stop, which lets their
running turns finish briefly (a turn cut short is re-run by whichever worker takes it next).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
from multiprocessing.process import BaseProcess

log = logging.getLogger(__name__)
RESTART_PAUSE_S = 1.0
"""Pause before restarting a child that died, so a crash loop does not spin."""
STOP_WITHIN_S = 15.0
"""How long stopping children get before they are killed."""


def supervise(count: int, environment: dict[str, str]) -> None:
    """Run `count` worker processes until this one is asked to stop."""
    from server.cli.serve import run_worker_process
    from server.metrics import process_ended

    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited loop or sockets
    stopping = False

    def start(slot: int) -> BaseProcess:
        child = context.Process(target=run_worker_process, args=(environment,),
                                name=f"switchboard-worker-{slot}")
        child.start()
        return child

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    children = [start(slot) for slot in range(count)]
    log.info("started %d worker processes: %s", count, ", ".join(str(c.pid) for c in children))
    while not stopping:
        time.sleep(0.2)
        for slot, child in enumerate(children):
            if not child.is_alive() and not stopping:
                log.warning("worker process %s exited (code %s); starting another", child.pid,
                            child.exitcode)
                process_ended(child.pid)
                time.sleep(RESTART_PAUSE_S)
                children[slot] = start(slot)
    for child in children:
        if child.is_alive():
            child.terminate()  # SIGTERM: the child's own handler stops it cleanly
    deadline = time.monotonic() + STOP_WITHIN_S
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            log.warning("worker process %s did not stop in time; killing it", child.pid)
            child.kill()
            child.join()
        process_ended(child.pid)
