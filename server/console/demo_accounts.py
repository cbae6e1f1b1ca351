"""The console's demo accounts: demo/demo (supervisor) and sam/sam (agent), whose passwords
are published in the README. They exist only in demo mode (server/demo_mode.py): created on a
first start in demo mode, marked `desk_agents.demo` (the console shows a badge), and disabled
whenever a server starts outside demo mode, so they can never log in to a real deployment."""

from __future__ import annotations

import asyncio
import logging

from graph.base.sql import Pool
from server.console.auth import hash_password, verify_password
from server.desk import accounts
from server.desk.states import AgentRole

log = logging.getLogger(__name__)

DEMO_AGENTS = (("demo", "Demo Supervisor", "demo", AgentRole.SUPERVISOR, "support"),
               ("sam", "Sam", "sam", AgentRole.AGENT, "support"))
"""(id, name, published password, role, team)."""


async def seed_demo_agents(pool: Pool) -> bool:
    """With no agents at all, create the demo accounts; True when created."""
    return await accounts.add_demo_if_none(pool, [
        (agent_id, name, hash_password(password), role, team)
        for agent_id, name, password, role, team in DEMO_AGENTS])


async def enable_demo_agents(pool: Pool) -> list[str]:
    """Demo mode again (after a start outside it): the demo accounts may log in again."""
    return await accounts.enable_demo(pool)


async def mark_published_password_accounts(pool: Pool) -> list[str]:
    """Mark the accounts with a demo id that still take the published password, though not
    marked (created before the mark existed, or by hand): they are demo accounts all the same."""
    passwords = {agent_id: password for agent_id, _, password, _, _ in DEMO_AGENTS}
    rows = await accounts.unmarked(pool, list(passwords))
    found = []
    for row in rows:  # scrypt is slow on purpose: off the event loop
        if await asyncio.to_thread(verify_password, passwords[row["id"]], row["password_hash"]):
            found.append(row["id"])
    if found:
        await accounts.mark_demo(pool, found)
    return found


async def disable_demo_agents(pool: Pool) -> list[str]:
    """Outside demo mode: no demo account can log in, and their sessions end now."""
    await mark_published_password_accounts(pool)
    return await accounts.disable_demo(pool)


async def apply_demo_mode(pool: Pool, demo_on: bool, why: str) -> None:
    """At server start: create or re-enable the demo accounts in demo mode, else disable them."""
    if not demo_on:
        if disabled := await disable_demo_agents(pool):
            log.warning("demo mode is off (%s): disabled the demo console accounts %s",
                        why, ", ".join(disabled))
        return
    await mark_published_password_accounts(pool)  # so the console badges them
    if await seed_demo_agents(pool):
        print("Agent console demo accounts created: demo/demo (supervisor) and sam/sam (agent, team"
              " support). Demo mode only: log in at /console.", flush=True)
    elif enabled := await enable_demo_agents(pool):
        log.info("demo mode: re-enabled the demo console accounts %s", ", ".join(enabled))
