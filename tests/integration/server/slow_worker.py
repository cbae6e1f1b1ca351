"""A worker process whose agent model hangs mid-turn, for the kill test. Not a test module.

Run as `python -m tests.integration.server.slow_worker`; settings come from the environment.
"""

from __future__ import annotations

import asyncio
import time

from graph.base.settings import Settings
from server.composition import open_server
from tests.fakes import ScriptedChatModel


def hang(messages, tools):
    print("agent called: hanging", flush=True)
    time.sleep(600)  # killed long before this returns
    raise AssertionError("should have been killed")


async def main() -> None:
    agent = ScriptedChatModel(steps=[hang], repeat_last=True)
    async with open_server(Settings(), agent_model=agent) as parts:
        await parts.turn_worker.run_forever(parts.stop)


if __name__ == "__main__":
    asyncio.run(main())
