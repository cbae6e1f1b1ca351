"""A worker process that kills itself at a chosen point of a turn, for the crash tests. Not a
test module.

Run as `python -m tests.integration.server.crash_worker`; settings come from the environment,
the crash point from CRASH_AT:

- `writes:<node>`: right after LangGraph saved the writes of <node>, before the checkpoint
  that follows them (per-step durability only);
- `checkpoint:<n>`: right after the n-th checkpoint of the turn was saved;
- `commit`: inside the turn's commit transaction, just before COMMIT;
- `after_commit`: after the commit, before the lease is released.

The process dies with os._exit (no cleanup, no finally blocks), exit code CRASH_CODE.
"""

from __future__ import annotations

import asyncio
import os

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from graph.base.settings import Settings
from server.composition import open_server
from server.inbound import inbox, turn
from server.inbound.lease import Leases

CRASH_CODE = 77


def crash() -> None:
    print(f"crashing at {os.environ['CRASH_AT']}", flush=True)
    os._exit(CRASH_CODE)


def install(point: str) -> None:
    kind, _, where = point.partition(":")
    if kind == "writes":
        original_writes = AsyncPostgresSaver.aput_writes

        async def aput_writes(self, config, writes, task_id, task_path=""):
            await original_writes(self, config, writes, task_id, task_path)
            if task_path.endswith(f", {where}") or task_path.endswith(f"|{where}"):
                crash()
        AsyncPostgresSaver.aput_writes = aput_writes
    elif kind == "checkpoint":
        original_put, seen = AsyncPostgresSaver.aput, [0]

        async def aput(self, config, checkpoint, metadata, new_versions):
            result = await original_put(self, config, checkpoint, metadata, new_versions)
            if metadata.get("source") != "input":  # the turn's own steps, not the caller's input
                seen[0] += 1
                if seen[0] == int(where):
                    crash()
            return result
        AsyncPostgresSaver.aput = aput
    elif kind == "commit":
        original_settle = inbox.settle

        async def settle(conn, messages, state):
            await original_settle(conn, messages, state)
            if state == "done":
                crash()  # the transaction is open: COMMIT never happens
        turn.inbox = _Patched(inbox, settle=settle)
    elif kind == "after_commit":
        original_finish = Leases.finish

        async def finish(self, lease):
            crash()
            return await original_finish(self, lease)
        Leases.finish = finish
    else:
        raise SystemExit(f"unknown CRASH_AT {point!r}")


class _Patched:
    """A module with some functions replaced, for the worker module alone."""

    def __init__(self, module, **replaced):
        self._module, self._replaced = module, replaced

    def __getattr__(self, name):
        return self._replaced.get(name) or getattr(self._module, name)


async def main() -> None:
    install(os.environ["CRASH_AT"])
    async with open_server(Settings()) as parts:
        print("crash worker ready", flush=True)
        await parts.turn_worker.run_forever(parts.stop, idle_s=0.02)


if __name__ == "__main__":
    asyncio.run(main())
