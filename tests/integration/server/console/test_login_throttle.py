"""Login backoff and lockout as an agent meets them: a typo costs a second, a success starts
afresh, old failures are forgotten, and an administrator can lift a lockout."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from graph.base.settings import ConsoleLoginSettings
from server.console.throttle import subject
from tests.integration.server.console.conftest import Console, add_agent, new_address

pytestmark = pytest.mark.integration
PROXIED = ConsoleLoginSettings(backoff_base_s=1.0, trusted_proxy_hops=1)
ROOT = Path(__file__).resolve().parents[4]


async def throttle_rows(server, agent_id: str, address: str) -> list[dict]:
    return await server.rows("SELECT scope, failures FROM console_login_throttle WHERE subject = ANY(%s)"
                             " ORDER BY scope", [subject("account", agent_id), subject("address", address)])


async def test_a_typo_costs_a_short_wait_and_a_success_starts_afresh(start_server):
    server = await start_server(run_workers=False, console_login=PROXIED)
    agent_id, address = await add_agent(server), new_address()
    console = Console(server, agent_id, address)
    try:
        assert (await console.login("typo")).status_code == 401
        too_soon = await console.login()
        assert too_soon.status_code == 429 and too_soon.headers["retry-after"] == "1"
        await asyncio.sleep(1.2)
        assert (await console.login()).status_code == 303
        # The id starts afresh; the address keeps its one real failure (a shared office NAT
        # waits a moment after someone's typo, never longer).
        assert await throttle_rows(server, agent_id, address) == [{"scope": "address", "failures": 1}]
    finally:
        await console.aclose()


async def test_failures_older_than_the_memory_no_longer_count(start_server):
    server = await start_server(run_workers=False, console_login=PROXIED.model_copy(
        update={"lockout_failures": 2}))
    agent_id, address = await add_agent(server), new_address()
    console = Console(server, agent_id, address)
    try:
        assert (await console.login("typo")).status_code == 401
        async with server.parts.pool.connection() as conn:  # two days later
            await conn.execute("UPDATE console_login_throttle SET last_failure_at = now() - interval '2 days',"
                               " blocked_until = NULL WHERE subject = %s", (subject("account", agent_id),))
        await asyncio.sleep(1.2)  # the address's own backoff
        assert (await console.login("typo again")).status_code == 401  # failure 1 again, not 2
        rows = await server.rows("SELECT kind, failures FROM console_login_events WHERE agent_id = %s"
                                 " ORDER BY id", agent_id)
        assert rows == [{"kind": "failure", "failures": 1}, {"kind": "failure", "failures": 1}]
    finally:
        await console.aclose()


async def test_an_administrator_can_lift_a_lockout(start_server, database_url, data_dir):
    server = await start_server(run_workers=False, console_login=PROXIED.model_copy(
        update={"lockout_failures": 1}))
    agent_id = await add_agent(server)
    console = Console(server, agent_id, new_address())
    try:
        assert (await console.login("wrong")).status_code == 401
        assert (await console.login()).status_code == 429  # locked for 15 minutes
        env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(data_dir), "TERM": "dumb"}
        result = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "server.cli", "agents",
                                         "unlock", agent_id], capture_output=True, text=True, env=env,
                                         cwd=ROOT, timeout=180)
        assert result.returncode == 0 and f"Unlocked {agent_id}" in result.stdout, result.stderr
        console.http.headers["x-forwarded-for"] = new_address()  # the address's backoff is its own
        assert (await console.login()).status_code == 303
    finally:
        await console.aclose()
