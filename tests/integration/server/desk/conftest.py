"""Shared by the desk's integration tests: the desk tables on the real Postgres, a test's own
corner of them (teams and keys of its own), and a local Slack-style webhook.

The desk tables are shared with other tests and developers, so every test works in teams of its
own (the watcher is limited to them) and only looks at its own keys.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from server import conversation_ids
from server.conversation_ids import ref
from server.database import open_pool
from server.desk import sla
from server.desk.notify import SlackNotifier
from server.desk.sla import SlaPolicy
from server.desk.watcher import SlaWatcher
from server.migrations import migrate
from tests.conftest import free_port

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday, inside business hours
MIN = timedelta(minutes=1)
PUBLIC_URL = "https://desk.harborandpine.example"


class Slack:
    """A local stand-in for a Slack incoming webhook: records each JSON post it is sent."""

    def __init__(self):
        self.secret = uuid.uuid4().hex
        self.status = 200
        self.posts: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        slack = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with slack.lock:
                    status = slack.status
                    slack.posts.append({"path": self.path, "status": status,
                                        "content_type": self.headers.get("content-type"),
                                        "json": json.loads(body)})
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"invalid_token")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()
        self.url = (f"http://127.0.0.1:{self.server.server_address[1]}"
                    f"/services/T0000/B0000/{self.secret}")

    def delivered(self, key: str | None = None) -> list[dict[str, Any]]:
        """The payloads accepted (status 200), optionally only those about one conversation."""
        with self.lock:
            posts = [p["json"] for p in self.posts if p["status"] == 200]
        return [p for p in posts if key is None or p["text"].endswith(f"/console/c/{ref(key)}")]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
async def pool(settings, database_url):
    pool = await open_pool(settings, database_url, max_size=8)
    async with pool.connection() as conn:
        await migrate(conn)
        await conversation_ids.setup(conn)  # alerts link by ref
    yield pool
    await pool.close()


@pytest.fixture
def slack():
    slack = Slack()
    yield slack
    slack.close()


@dataclasses.dataclass
class Desk:
    """This test's corner of the shared desk tables."""

    pool: Any
    slack: Slack
    uid: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex[:10])
    keys: list[str] = dataclasses.field(default_factory=list)
    agents: list[str] = dataclasses.field(default_factory=list)

    @property
    def team(self) -> str:
        return f"team-{self.uid}"

    @property
    def fallback(self) -> str:
        return f"escalations-{self.uid}"

    always_open: bool = False
    """Open around the clock (for tests on the wall clock, which may run at night)."""

    @property
    def policy(self) -> SlaPolicy:
        policy = dataclasses.replace(SlaPolicy.load(sla.BUNDLED), fallback_team=self.fallback)
        if self.always_open:
            policy = dataclasses.replace(policy, hours=(((0, 1440),),) * 7, closed_dates=frozenset())
        return policy

    def watcher(self, notifier=None, teams=None, pool=None, policy=None) -> SlaWatcher:
        notifier = notifier or SlackNotifier(self.slack.url, public_url=PUBLIC_URL)
        return SlaWatcher(pool or self.pool, policy or self.policy, notifier,
                          teams=teams or [self.team, self.fallback, f"other-{self.uid}"])

    async def sql(self, query: str, *args: Any) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(query, args)
            return await cursor.fetchall() if cursor.description else []

    async def agent(self, name: str, *, seen: datetime | None, active: bool = True,
                    team: str | None = None) -> str:
        agent_id = f"{self.uid}-{name}"
        await self.sql("INSERT INTO desk_agents (id, name, password_hash, role, team, active,"
                       " last_seen_at) VALUES (%s, %s, 'x', 'agent', %s, %s, %s)",
                       agent_id, name.title(), team or self.team, active, seen)
        self.agents.append(agent_id)
        return agent_id

    async def conversation(self, name: str, **columns: Any) -> str:
        key = f"sla-{self.uid}-{name}"
        row = {"key": key, "team": self.team, "state": "PENDING_AGENT",
               "customer_name": f"Customer {name}", "tier": "retail", "topic": "order_status",
               "reason": "customer_request", "pending_since": NOW - MIN,
               "first_response_due_at": NOW + 60 * MIN, "resolution_due_at": NOW + 600 * MIN,
               **columns}
        await self.sql(f"INSERT INTO desk_conversations ({', '.join(row)})"
                       f" VALUES ({', '.join(['%s'] * len(row))})", *row.values())
        self.keys.append(key)
        return key

    async def row(self, key: str) -> dict[str, Any]:
        return (await self.sql("SELECT * FROM desk_conversations WHERE key = %s", key))[0]

    async def events(self, key: str, kind: str | None = None) -> list[dict[str, Any]]:
        return await self.sql("SELECT * FROM desk_events WHERE conversation_key = %s"
                              " AND (%s::text IS NULL OR kind = %s) ORDER BY id", key, kind, kind)

    async def cleanup(self):
        await self.sql("DELETE FROM desk_events WHERE conversation_key = ANY(%s)", self.keys)
        await self.sql("DELETE FROM desk_conversations WHERE key = ANY(%s)", self.keys)
        await self.sql("DELETE FROM desk_agents WHERE id = ANY(%s)", self.agents)


@pytest.fixture
async def desk(pool, slack):
    desk = Desk(pool, slack)
    # The fallback team has a member (not online): conversations may be re-routed to it.
    await desk.agent("escalation-lead", seen=None, team=desk.fallback)
    yield desk
    await desk.cleanup()


NOTHING = {"sla_miss": 0, "reassigned": 0, "rerouted": 0, "sla_warning": 0}


def counts(**changes: int) -> dict[str, int]:
    return {**NOTHING, **changes}
