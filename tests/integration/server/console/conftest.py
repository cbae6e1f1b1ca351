"""Helpers for the console's HTTP tests: agents, logged-in clients, handed-off conversations."""

from __future__ import annotations

import re
import uuid

import httpx

from server.console.auth import create_agent
from tests.integration.server.conftest import RunningServer, text_message

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def new_phone() -> str:
    return "4478" + str(uuid.uuid4().int)[:8]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_address() -> str:
    """A client address of its own (TEST-NET-2), so login backoffs of tests do not meet."""
    value = uuid.uuid4().int
    return f"198.51.{value % 256}.{(value >> 8) % 254 + 1}"


async def add_agent(server: RunningServer, role: str = "agent", team: str = "support",
                    password: str = "pw-for-tests") -> str:
    agent_id = unique(role)
    await create_agent(server.parts.pool, agent_id, agent_id.title(), password, role, team)
    return agent_id


class Console:
    """A browser-like HTTP client of one logged-in agent."""

    def __init__(self, server: RunningServer, agent_id: str, address: str | None = None):
        """`address`: sent as X-Forwarded-For (counts only with console_login.trusted_proxy_hops)."""
        self.server, self.agent_id = server, agent_id
        self.http = httpx.AsyncClient(base_url=server.url, timeout=30,
                                      headers={"x-forwarded-for": address} if address else None)
        self.csrf = ""

    async def login(self, password: str = "pw-for-tests") -> httpx.Response:
        page = await self.http.get("/console/login")
        response = await self.http.post("/console/login", data={
            "agent_id": self.agent_id, "password": password, "csrf_token": CSRF.search(page.text)[1]})
        if response.status_code == 303:
            self.csrf = CSRF.search((await self.http.get("/console")).text)[1]
        return response

    async def act(self, ref: str, action: str, **form: str) -> httpx.Response:
        """POST an action form to /console/c/{ref}/{action}; done, follow the redirect. Returns
        the conversation page (a refused action's page comes back at once, with its 4xx)."""
        response = await self.http.post(f"/console/c/{ref}/{action}", data={"csrf_token": self.csrf, **form})
        if response.status_code != 303:
            assert 400 <= response.status_code < 500, response.text
            return response
        return await self.http.get(response.headers["location"])

    async def aclose(self) -> None:
        await self.http.aclose()


async def console_for(server: RunningServer, role: str = "agent", team: str = "support") -> Console:
    console = Console(server, await add_agent(server, role, team))
    assert (await console.login()).status_code == 303
    return console


async def ref_for(server: RunningServer, key: str) -> str:
    """The conversation's opaque id, as the console's URLs use it."""
    rows = await server.rows("SELECT ref FROM desk_conversations WHERE key = %s", key)
    assert rows and rows[0]["ref"], f"no desk row with a ref for {key}"
    return rows[0]["ref"]


async def handed_off(server: RunningServer, phone: str | None = None) -> str:
    """A conversation the bot handed to a human: PENDING_AGENT on the desk."""
    phone = phone or new_phone()
    await server.post_meta(text_message(phone, "I want to talk to a human"))
    rows = await server.wait_for("SELECT state FROM desk_conversations WHERE key = %s"
                                 " AND state = 'PENDING_AGENT'", phone, within_s=30)
    assert rows, "the bot did not hand the conversation off"
    return phone
