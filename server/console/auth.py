"""Console accounts and sessions: scrypt password hashes, session cookies, CSRF tokens.

Only the SHA-256 of a session token is stored, so a database leak does not leak logins.
Passwords are never logged, never echoed, and never put in an error message.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from psycopg.errors import UniqueViolation

from graph.base.sql import Pool
from server.deps import ServerDep
from server.desk import accounts
from server.desk.desk import Agent
from server.desk.states import AgentRole

log = logging.getLogger(__name__)

SESSION_COOKIE = "switchboard_session"
LOGIN_CSRF_COOKIE = "switchboard_login_csrf"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SEEN_EVERY = timedelta(seconds=30)
"""How often a request refreshes desk_agents.last_seen_at (who is online)."""


# --- Passwords ------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """`scrypt$n$r$p$salt$hash` with a random 16-byte salt (base64 fields)."""
    if not password:
        raise ValueError("a password is required")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of a password against `hash_password`'s output; False if malformed."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
"""Checked against when the agent id is unknown, so a wrong id takes as long as a wrong password."""


# --- Tokens ---------------------------------------------------------------------------------

def new_token() -> str:
    """A random session or CSRF token."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a token: its hash, so a leaked table opens no session."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; missing on either side never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


# --- Agents ---------------------------------------------------------------------------------

class AgentExists(ValueError):
    """An agent with that id exists already."""
    pass


async def create_agent(pool: Pool, id: str, name: str, password: str,  # noqa: A002
                       role: AgentRole | str = AgentRole.AGENT, team: str = "support") -> Agent:
    """Create a console agent with a hashed password; AgentExists when the id is taken."""
    if role not in list(AgentRole):
        raise ValueError(f"role must be one of {', '.join(AgentRole)}")
    if not id.strip() or not team.strip():
        raise ValueError("an agent needs an id and a team")
    try:
        await accounts.add(pool, agent_id=id, name=name or id, password_hash=hash_password(password),
                           role=AgentRole(role), team=team)
    except UniqueViolation:
        raise AgentExists(f"agent {id} already exists") from None
    log.info("created console agent %s (%s, team %s)", id, role, team)
    return Agent(id=id, name=name or id, role=AgentRole(role), team=team)


async def authenticate(pool: Pool, agent_id: str, password: str) -> Agent | None:
    """The agent if the id and password match an active account, else None (no hint which)."""
    row = await accounts.for_login(pool, agent_id)
    # scrypt takes tens of milliseconds: off the event loop, so webhook acks do not stall.
    ok = await asyncio.to_thread(verify_password, password, row["password_hash"] if row else _DUMMY_HASH)
    if not (row and ok):
        return None
    return Agent(id=row["id"], name=row["name"], role=AgentRole(row["role"]), team=row["team"])


# --- Sessions -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Session:
    """A logged-in agent's session, with its CSRF token."""

    agent: Agent
    csrf_token: str
    demo: bool = False
    """A demo account (published password; server/console/demo_accounts.py): the pages say so."""


async def start_session(pool: Pool, agent: Agent, ttl_hours: int) -> tuple[str, Session]:
    """A new session: returns the cookie token (never stored) and the session."""
    token, csrf = new_token(), new_token()
    await accounts.open_session(pool, token_hash=token_hash(token), agent_id=agent.id,
                                csrf_token=csrf, ttl_hours=ttl_hours)
    return token, Session(agent, csrf)


async def end_session(pool: Pool, token: str | None) -> None:
    """Log out: delete the session the token names, if any."""
    if token:
        await accounts.close_session(pool, token_hash(token))


async def load_session(pool: Pool, token: str | None) -> Session | None:
    """The live session for a cookie token; refreshes the agent's last_seen_at now and then."""
    if not token:
        return None
    row = await accounts.live_session(pool, token_hash(token), SEEN_EVERY)
    if row is None:
        return None
    return Session(Agent(id=row["id"], name=row["name"], role=AgentRole(row["role"]), team=row["team"]),
                   row["csrf_token"], demo=row["demo"])


def is_api(request: Request) -> bool:
    """Machine endpoints answer 401; pages redirect to the login page."""
    path = request.url.path
    return path.startswith("/console/events") or path.startswith("/console/api") \
        or "text/event-stream" in request.headers.get("accept", "")


async def current_session(request: Request, runtime: ServerDep) -> Session:
    """FastAPI dependency: the request's session, else 401 (API) or a redirect to the login page."""
    session = await load_session(runtime.pool, request.cookies.get(SESSION_COOKIE))
    if session is None:
        if is_api(request):
            raise HTTPException(401, "login required")
        raise HTTPException(303, "login required", headers={"Location": "/console/login"})
    request.state.console_session = session
    return session


async def current_agent(session: Annotated[Session, Depends(current_session)]) -> Agent:
    """FastAPI dependency: the logged-in agent."""
    return session.agent


SessionDep = Annotated[Session, Depends(current_session)]
AgentDep = Annotated[Agent, Depends(current_agent)]


async def require_csrf(request: Request, session: SessionDep) -> Session:
    """Every POST form carries the session's CSRF token in the `csrf_token` field."""
    form = await request.form()
    given = form.get("csrf_token")
    if not csrf_matches(session.csrf_token, given if isinstance(given, str) else None):
        raise HTTPException(403, "invalid or missing CSRF token")
    return session


CsrfSessionDep = Annotated[Session, Depends(require_csrf)]
