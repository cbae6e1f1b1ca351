"""Console accounts and sessions as stored (desk_agents, desk_sessions): the one module that
reads and writes them. Passwords are hashed, tokens hashed and demo accounts decided in
server/console/ (auth.py, demo_accounts.py); only hashes reach these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from graph.base.sql import Conn, Pool, required
from server.desk.states import AgentRole


async def add(pool: Pool, *, agent_id: str, name: str, password_hash: str, role: AgentRole,
              team: str) -> None:
    """Create an account (psycopg's UniqueViolation when the id is taken)."""
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO desk_agents (id, name, password_hash, role, team) VALUES (%s, %s, %s, %s, %s)",
            (agent_id, name, password_hash, role, team))


async def for_login(pool: Pool, agent_id: str) -> dict[str, Any] | None:
    """An active account's id, name, role, team and password hash, or None."""
    async with pool.connection() as conn:
        return await (await conn.execute(
            "SELECT id, name, role, team, password_hash FROM desk_agents WHERE id = %s AND active",
            (agent_id,))).fetchone()


async def exists(conn: Conn, agent_id: str) -> bool:
    """Whether an account (active or not) has this id (in the caller's transaction)."""
    return await (await conn.execute(
        "SELECT 1 FROM desk_agents WHERE id = %s", (agent_id,))).fetchone() is not None


async def open_session(pool: Pool, *, token_hash: str, agent_id: str, csrf_token: str,
                       ttl_hours: int) -> None:
    """Store a new session, mark the agent seen, and drop expired sessions."""
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO desk_sessions (token_hash, agent_id, csrf_token, expires_at)"
            " VALUES (%s, %s, %s, now() + make_interval(hours => %s))",
            (token_hash, agent_id, csrf_token, ttl_hours))
        await conn.execute("UPDATE desk_agents SET last_seen_at = now() WHERE id = %s", (agent_id,))
        await conn.execute("DELETE FROM desk_sessions WHERE expires_at < now()")


async def close_session(pool: Pool, token_hash: str) -> None:
    """Delete the session with this token hash, if any."""
    async with pool.connection() as conn:
        await conn.execute("DELETE FROM desk_sessions WHERE token_hash = %s", (token_hash,))


async def live_session(pool: Pool, token_hash: str, seen_every: timedelta) -> dict[str, Any] | None:
    """The unexpired session of an active agent (agent id, name, role, team, demo, csrf_token),
    marking the agent seen when last seen more than `seen_every` ago (who is online)."""
    async with pool.connection() as conn:
        row = await (await conn.execute(
            "SELECT a.id, a.name, a.role, a.team, a.demo, s.csrf_token FROM desk_sessions s"
            " JOIN desk_agents a ON a.id = s.agent_id"
            " WHERE s.token_hash = %s AND s.expires_at > now() AND a.active",
            (token_hash,))).fetchone()
        if row is not None:
            await conn.execute(
                "UPDATE desk_agents SET last_seen_at = now() WHERE id = %s"
                " AND (last_seen_at IS NULL OR last_seen_at <= now() - %s)", (row["id"], seen_every))
    return row


# --- Demo accounts (server/console/demo_accounts.py decides when) ---------------------------

async def add_demo_if_none(pool: Pool, accounts: Iterable[tuple[str, str, str, AgentRole, str]]) -> bool:
    """With no accounts at all, create these (id, name, password hash, role, team) as demo
    accounts; True when created. Concurrent starts create them once."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("LOCK TABLE desk_agents IN SHARE ROW EXCLUSIVE MODE")
        if required(await (await conn.execute("SELECT count(*) AS n FROM desk_agents")).fetchone())["n"]:
            return False
        for agent_id, name, password_hash, role, team in accounts:
            await conn.execute(
                "INSERT INTO desk_agents (id, name, password_hash, role, team, demo)"
                " VALUES (%s, %s, %s, %s, %s, true)", (agent_id, name, password_hash, role, team))
    return True


async def enable_demo(pool: Pool) -> list[str]:
    """Let disabled demo accounts log in again; their ids."""
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            "UPDATE desk_agents SET active = true WHERE demo AND NOT active RETURNING id")).fetchall()
    return sorted(r["id"] for r in rows)


async def unmarked(pool: Pool, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Active accounts with one of these ids not marked demo (id, password_hash)."""
    async with pool.connection() as conn:
        return await (await conn.execute(
            "SELECT id, password_hash FROM desk_agents WHERE id = ANY(%s) AND NOT demo AND active",
            (list(ids),))).fetchall()


async def mark_demo(pool: Pool, ids: Sequence[str]) -> None:
    """Mark these accounts as demo accounts (the console badges them)."""
    async with pool.connection() as conn:
        await conn.execute("UPDATE desk_agents SET demo = true WHERE id = ANY(%s)", (list(ids),))


async def disable_demo(pool: Pool) -> list[str]:
    """No demo account can log in, and their sessions end now; their ids."""
    async with pool.connection() as conn, conn.transaction():
        rows = await (await conn.execute(
            "UPDATE desk_agents SET active = false WHERE demo AND active RETURNING id")).fetchall()
        ids = [r["id"] for r in rows]
        if ids:
            await conn.execute("DELETE FROM desk_sessions WHERE agent_id = ANY(%s)", (ids,))
    return sorted(ids)
