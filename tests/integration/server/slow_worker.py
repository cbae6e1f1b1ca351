"""A worker process whose agent model hangs mid-turn, for the kill test. Not a test module.

Run as `python -m tests.integration.server.slow_worker`; settings come from the environment.
"""

from __future__ import annotations

import asyncio
import time

from graph.base.settings import Settings
from server.runtime import open_runtime
from tests.fakes import ScriptedChatModel


def hang(messages, tools):
    print("agent called: hanging", flush=True)
    time.sleep(600)  # killed long before this returns
    raise AssertionError("should have been killed")


async def main() -> None:
    agent = ScriptedChatModel(steps=[hang], repeat_last=True)
    async with open_runtime(Settings(), agent_model=agent) as runtime:
        await runtime.turn_worker.run_forever(runtime.stop)


if __name__ == "__main__":
    asyncio.run(main())
