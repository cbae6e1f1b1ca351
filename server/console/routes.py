"""The agent console: server-rendered pages under /console, plain forms (POST-redirect-GET),
and a Server-Sent Events stream of desk events for live updates."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates

from server.console import auth
from server.console.auth import AgentDep, CsrfSessionDep, SessionDep
from server.deps import RuntimeDep
from server.desk import actions
from server.desk.desk import HUMAN_STATES, Agent, DeskError, NotAllowed
from server.runtime import DESK_CHANNEL, Runtime

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console", tags=["console"])
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates" / "console")
FLASH_COOKIE = "switchboard_flash"
HEARTBEAT_S = 15.0
STATES = ("PENDING_AGENT", "AGENT")
PRIORITIES = ("urgent", "high", "normal", "low")


# --- Helpers --------------------------------------------------------------------------------

def sla_text(due: datetime | None, now: datetime | None = None) -> str:
    """'12m 03s left' or 'breached 4m ago'; the page's script keeps it counting."""
    if due is None:
        return "no SLA"
    seconds = int((due - (now or datetime.now(UTC))).total_seconds())
    left = abs(seconds)
    hours, rest = divmod(left, 3600)
    minutes, secs = divmod(rest, 60)
    span = f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"
    return f"{span} left" if seconds >= 0 else f"breached {span} ago"


def breached(due: datetime | None) -> bool:
    return bool(due and due < datetime.now(UTC))


templates.env.filters["sla_text"] = sla_text
templates.env.globals["breached"] = breached
templates.env.filters["when"] = lambda at: at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at else ""


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    session: auth.Session | None = getattr(request.state, "console_session", None)
    flash = unquote(request.cookies.get(FLASH_COOKIE, ""))[:500]
    response = templates.TemplateResponse(request, name, {
        "agent": session.agent if session else None,
        "csrf_token": session.csrf_token if session else "", "flash": flash, **context},
        status_code=status_code)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/console")
    response.headers["Cache-Control"] = "no-store"
    return response


def _redirect(request: Request, to: str, flash: str | None = None) -> RedirectResponse:
    response = RedirectResponse(to, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, quote(flash[:300]), path="/console", httponly=True,
                            samesite="lax", secure=_secure(request), max_age=60)
    return response


async def _teams(runtime: Runtime, current: str) -> list[str]:
    async with runtime.pool.connection() as conn:
        rows = await (await conn.execute(
            "SELECT DISTINCT team FROM desk_agents WHERE active")).fetchall()
    return sorted({r["team"] for r in rows} | {current, "support"})


async def _agents(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.pool.connection() as conn:
        return await (await conn.execute(
            "SELECT id, name, team, role FROM desk_agents WHERE active ORDER BY team, id")).fetchall()


# --- Login ----------------------------------------------------------------------------------

def _login_page(request: Request, error: str = "", status_code: int = 200, next_url: str = "") -> Response:
    token = request.cookies.get(auth.LOGIN_CSRF_COOKIE) or auth.new_token()
    response = _render(request, "login.html", {"login_csrf": token, "error": error,
                                               "next": next_url}, status_code)
    response.set_cookie(auth.LOGIN_CSRF_COOKIE, token, path="/console", httponly=True,
                        samesite="lax", secure=_secure(request), max_age=3600)
    return response


def _safe_next(next_url: str | None) -> str:
    if next_url and (next_url == "/console" or next_url.startswith(("/console/", "/console?"))) \
            and not next_url.startswith("/console/login"):
        return next_url
    return "/console"


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "") -> Response:  # noqa: A002
    return _login_page(request, next_url=_safe_next(next))


@router.post("/login")
async def login(request: Request, runtime: RuntimeDep, agent_id: Annotated[str, Form()] = "",
                password: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "",
                next: Annotated[str, Form()] = "") -> Response:  # noqa: A002
    if not auth.csrf_matches(request.cookies.get(auth.LOGIN_CSRF_COOKIE), csrf_token):
        raise HTTPException(403, "invalid or missing CSRF token")
    agent = await auth.authenticate(runtime.pool, agent_id.strip(), password)
    if agent is None:
        log.info("console login failed for id %r", agent_id[:64])  # never the password
        return _login_page(request, "Wrong agent id or password.", 401, _safe_next(next))
    token, _ = await auth.start_session(runtime.pool, agent, runtime.settings.session_ttl_hours)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(auth.SESSION_COOKIE, token, path="/", httponly=True, samesite="lax",
                        secure=_secure(request), max_age=runtime.settings.session_ttl_hours * 3600)
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/console")
    log.info("console login: %s", agent.id)
    return response


@router.post("/logout")
async def logout(request: Request, runtime: RuntimeDep, session: CsrfSessionDep) -> Response:
    await auth.end_session(runtime.pool, request.cookies.get(auth.SESSION_COOKIE))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


# --- Pages ----------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
async def queue_page(request: Request, runtime: RuntimeDep, agent: AgentDep, state: str = "",
                     priority: str = "", mine: str = "") -> Response:
    state = state if state in STATES else ""
    priority = priority if priority in PRIORITIES else ""
    rows = await actions.queue(runtime.desk, agent, state=state or None, priority=priority or None,
                               mine=bool(mine))
    return _render(request, "queue.html", {
        "rows": rows, "filters": {"state": state, "priority": priority, "mine": bool(mine)},
        "states": STATES, "priorities": PRIORITIES, "now": datetime.now(UTC)})


def _since_handoff(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Messages exchanged while a human owns the conversation (not in the bot's transcript yet)."""
    if view["conversation"]["state"] not in HUMAN_STATES:
        return []
    start = 0
    for event in view["events"]:
        if event["kind"] == "transition" and event["actor"] == "bot" and event["to_state"] == "PENDING_AGENT":
            start = event["id"]
    shown = []
    for event in view["events"]:
        if event["id"] > start and event["kind"] in ("customer_message", "agent_message"):
            payload = event["payload"] or {}
            text = payload.get("text") or f"[template {payload.get('template')}]"
            shown.append({"from": "customer" if event["kind"] == "customer_message" else "agent",
                          "agent": event["actor"].removeprefix("agent:"), "text": text, "at": event["at"]})
    return shown


@router.get("/c/{key}", response_class=HTMLResponse)
async def conversation_page(request: Request, key: str, runtime: RuntimeDep, agent: AgentDep) -> Response:
    try:
        view = await actions.view(runtime.desk, agent, key)
    except NotAllowed as error:
        return _render(request, "error.html", {"message": str(error)}, 403)
    except DeskError as error:
        return _render(request, "error.html", {"message": str(error)}, 404)
    conversation = view["conversation"]
    handoff = conversation.get("handoff") or {}
    return _render(request, "conversation.html", {
        "key": key, "view": view, "c": conversation, "handoff": handoff,
        "since_handoff": _since_handoff(view),
        "citations": view["citations"] or handoff.get("citations") or [],
        "templates": sorted({runtime.settings.reengagement_template, "order_update_v1"}),
        "teams": await _teams(runtime, conversation["team"]),
        "agents": await _agents(runtime) if agent.supervisor else [],
        "permalink": runtime.desk.permalink(key)})


# --- Actions --------------------------------------------------------------------------------

async def _act(request: Request, key: str, done: str, action) -> Response:
    try:
        await action()
    except DeskError as error:
        return _redirect(request, f"/console/c/{quote(key, safe='')}", str(error))
    return _redirect(request, f"/console/c/{quote(key, safe='')}", done)


@router.post("/c/{key}/claim")
async def claim(request: Request, key: str, runtime: RuntimeDep, session: CsrfSessionDep) -> Response:
    return await _act(request, key, "Claimed: the conversation is yours.",
                      lambda: actions.claim(runtime.desk, session.agent, key))


@router.post("/c/{key}/assign")
async def assign(request: Request, key: str, runtime: RuntimeDep, session: CsrfSessionDep,
                 agent_id: Annotated[str, Form()] = "") -> Response:
    return await _act(request, key, f"Assigned to {agent_id}.",
                      lambda: actions.assign(runtime.desk, session.agent, key, agent_id))


@router.post("/c/{key}/transfer")
async def transfer(request: Request, key: str, runtime: RuntimeDep, session: CsrfSessionDep,
                   team: Annotated[str, Form()] = "") -> Response:
    async def run() -> None:
        if not team.strip():
            raise DeskError("pick a team")
        await actions.transfer(runtime.desk, session.agent, key, team.strip())
    return await _act(request, key, f"Transferred to {team}.", run)


@router.post("/c/{key}/note")
async def note(request: Request, key: str, runtime: RuntimeDep, session: CsrfSessionDep,
               text: Annotated[str, Form()] = "") -> Response:
    return await _act(request, key, "Note added.",
                      lambda: actions.note(runtime.desk, session.agent, key, text))


@router.post("/c/{key}/reply")
async def reply(request: Request, key: str, runtime: RuntimeDep, session: CsrfSessionDep,
                text: Annotated[str, Form()] = "", template: Annotated[str, Form()] = "") -> Response:
    return await _act(request, key, "Sent.", lambda: actions.reply(
        runtime.desk, session.agent, key, text=text.strip() or None, template=template.strip() or None))


@router.post("/c/{key}/resolve")
async def resolve(request: Request, key: str, runtime: RuntimeDep, session: CsrfSessionDep,
                  csat: Annotated[str, Form()] = "") -> Response:
    return await _act(request, key, "Resolved." + (" CSAT prompt sent." if csat else ""),
                      lambda: actions.resolve(runtime.desk, session.agent, key, csat=bool(csat)))


@router.post("/c/{key}/return")
async def return_to_bot(request: Request, key: str, runtime: RuntimeDep, session: CsrfSessionDep,
                        notes: Annotated[str, Form()] = "") -> Response:
    return await _act(request, key, "Returned to the bot.",
                      lambda: actions.return_to_bot(runtime.desk, session.agent, key, notes.strip()))


# --- Live updates ---------------------------------------------------------------------------

async def _visible_key(runtime: Runtime, agent: Agent, key: str) -> bool:
    if agent.supervisor:
        return True
    async with runtime.pool.connection() as conn:
        row = await (await conn.execute(
            "SELECT team FROM desk_conversations WHERE key = %s", (key,))).fetchone()
    return bool(row and row["team"] == agent.team)


async def desk_events(request: Request, runtime: Runtime, agent: Agent) -> AsyncIterator[str]:
    pubsub = runtime.redis.pubsub()
    await pubsub.subscribe(DESK_CHANNEL)
    try:
        yield "retry: 3000\n: connected\n\n"
        last = time.monotonic()
        while not runtime.stop.is_set():
            if await request.is_disconnected():
                break
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message and message.get("type") == "message":
                try:
                    event = json.loads(message["data"])
                except (TypeError, ValueError):
                    continue
                key = str(event.get("key", ""))
                if key and await _visible_key(runtime, agent, key):
                    data = json.dumps({"key": key, "kind": event.get("kind")})
                    yield f"event: desk\ndata: {data}\n\n"
                    last = time.monotonic()
            if time.monotonic() - last >= HEARTBEAT_S:
                yield ": heartbeat\n\n"
                last = time.monotonic()
    except asyncio.CancelledError:
        raise
    finally:
        try:
            await pubsub.unsubscribe(DESK_CHANNEL)
            await pubsub.aclose()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            log.debug("closing the desk subscription failed", exc_info=True)


@router.get("/events")
async def events(request: Request, runtime: RuntimeDep, session: SessionDep) -> StreamingResponse:
    return StreamingResponse(desk_events(request, runtime, session.agent), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def startup(runtime: Runtime, *, demo: bool) -> None:
    """At server start: with the simulator (local demo) and no agents, seed demo accounts."""
    if demo and await auth.seed_demo_agents(runtime.pool):
        print("Agent console demo accounts created: demo/demo (supervisor) and sam/sam (agent, team"
              " support). Local demo only: log in at /console.", flush=True)
