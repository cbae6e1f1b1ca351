"""The agent console: server-rendered pages under /console, plain forms (POST-redirect-GET),
and a Server-Sent Events stream of desk events for live updates. Conversations are addressed by
their opaque ref (/console/c/c_...), never by phone number; a refused action answers 4xx."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates

from graph.base.conversation import ConversationId
from server import audit_timeline
from server.console import auth, demo_accounts, live, throttle
from server.console import media as console_media
from server.console.auth import AgentDep, CsrfSessionDep, SessionDep
from server.demo_mode import DemoMode
from server.deps import ServerDep
from server.desk import actions, csat, reads
from server.desk.desk import DeskError, Invalid
from server.desk.events import since_handoff
from server.desk.states import HUMAN_STATES, Priority
from server.outbox import templates_offer
from server.parts import ServerParts
from server.urls import public_url

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console", tags=["console"])
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates" / "console")
FLASH_COOKIE = "switchboard_flash"
PARAM_FIELD = "param_"
"""A template parameter's form field: param_<parameter name>."""
STATES = HUMAN_STATES
"""The queue's state filter: the states a human owns."""
PRIORITIES = tuple(reversed(Priority))
"""The queue's priority filter, most urgent first."""


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
    """Whether an SLA due time has passed."""
    return bool(due and due < datetime.now(UTC))


templates.env.filters["sla_text"] = sla_text
templates.env.globals["breached"] = breached
templates.env.filters["when"] = lambda at: at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at else ""


def _secure(request: Request) -> bool:
    """Cookies are Secure whenever the public URL is https: behind a TLS-terminating proxy the
    request itself arrives over plain http."""
    runtime = getattr(request.app.state, "parts", None)
    return request.url.scheme == "https" or bool(
        runtime and public_url(runtime.settings).lower().startswith("https://"))


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200,
            error: str | None = None) -> Response:
    """A console page: the template with the agent's session, CSRF token and any error."""
    session: auth.Session | None = getattr(request.state, "console_session", None)
    flash = error or unquote(request.cookies.get(FLASH_COOKIE, ""))[:500]
    response = templates.TemplateResponse(request, name, {
        "agent": session.agent if session else None, "demo_account": bool(session and session.demo),
        "demo_mode": getattr(request.app.state, "demo_mode", None),
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


# --- Login ----------------------------------------------------------------------------------

def _login_page(request: Request, error: str = "", status_code: int = 200, next_url: str = "",
                headers: dict[str, str] | None = None) -> Response:
    token = request.cookies.get(auth.LOGIN_CSRF_COOKIE) or auth.new_token()
    response = render(request, "login.html", {"login_csrf": token, "error": error,
                                               "next": next_url}, status_code)
    response.headers.update(headers or {})
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
    """The login form."""
    return _login_page(request, next_url=_safe_next(next))


@router.post("/login")
async def login(request: Request, runtime: ServerDep, agent_id: Annotated[str, Form()] = "",
                password: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "",
                next: Annotated[str, Form()] = "") -> Response:  # noqa: A002
    """Log an agent in (throttled, CSRF-checked), then go back where they were headed."""
    if not auth.csrf_matches(request.cookies.get(auth.LOGIN_CSRF_COOKIE), csrf_token):
        raise HTTPException(403, "invalid or missing CSRF token")
    limits, agent_id = runtime.settings.console_login, agent_id.strip()[:200]
    guard = throttle.LoginThrottle(runtime.pool, limits)
    attempt = await guard.charge(agent_id, throttle.client_address(request, limits.trusted_proxy_hops))
    if not attempt.allowed:  # the password is not even looked at
        return _login_page(request, f"Too many failed logins: try again in {attempt.retry_after_s} s.",
                           429, _safe_next(next), {"Retry-After": str(attempt.retry_after_s)})
    agent = await auth.authenticate(runtime.pool, agent_id, password)
    if agent is None:
        await guard.failed(attempt)  # an event row and one log line, never the password
        return _login_page(request, "Wrong agent id or password.", 401, _safe_next(next))
    await guard.succeeded(attempt)
    token, _ = await auth.start_session(runtime.pool, agent, runtime.settings.session_ttl_hours)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(auth.SESSION_COOKIE, token, path="/", httponly=True, samesite="lax",
                        secure=_secure(request), max_age=runtime.settings.session_ttl_hours * 3600)
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/console")
    log.info("console login: %s", agent.id)
    return response


@router.post("/logout")
async def logout(request: Request, runtime: ServerDep, session: CsrfSessionDep) -> Response:
    """Log the agent out."""
    await auth.end_session(runtime.pool, request.cookies.get(auth.SESSION_COOKIE))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


# --- Pages ----------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
async def queue_page(request: Request, runtime: ServerDep, agent: AgentDep, state: str = "",
                     priority: str = "", mine: str = "") -> Response:
    """The queue of conversations the agent may see, filtered by state, priority or owner."""
    state = state if state in STATES else ""
    priority = priority if priority in PRIORITIES else ""
    rows = await reads.queue(runtime.desk, agent, state=state or None, priority=priority or None,
                               mine=bool(mine))
    async with runtime.pool.connection() as conn:  # a supervisor sees every team's agents
        ratings = await csat.agent_averages(conn, None if agent.supervisor else agent.team)
    return render(request, "queue.html", {
        "rows": rows, "filters": {"state": state, "priority": priority, "mine": bool(mine)},
        "csat_agents": ratings, "csat_days": csat.AVERAGE_OVER.days,
        "delivery_problems": await runtime.desk.delivery_problems(agent),
        "states": STATES, "priorities": PRIORITIES, "now": datetime.now(UTC)})


def _since_handoff(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Messages exchanged while a human owns the conversation (not in the bot's transcript yet)."""
    if view["conversation"]["state"] not in HUMAN_STATES:
        return []
    return since_handoff(view["events"])


async def _conversation(request: Request, runtime: ServerParts, session: auth.Session, ref: str, *,
                        error: DeskError | None = None) -> Response:
    """The conversation page (with a refused action's message and 4xx status, if any)."""
    agent = session.agent
    try:
        key = await reads.find(runtime.desk, ref)
        view = await reads.view(runtime.desk, agent, key)
    except DeskError as refused:
        return render(request, "error.html", {"message": str(refused)}, refused.status)
    conversation = view["conversation"]
    handoff = conversation.get("handoff") or {}
    async with runtime.pool.connection() as conn:
        ratings = await csat.for_conversation(conn, key)
    language = await runtime.desk.conversations.language(ConversationId(key))
    return render(request, "conversation.html", {
        "ref": ref, "view": view, "c": conversation, "handoff": handoff,
        "since_handoff": _since_handoff(view), "csat": ratings,
        "citations": view["citations"] or handoff.get("citations") or [],
        "language": language, "templates": templates_offer.offered(runtime.desk.templates, language),
        "teams": await reads.known_teams(runtime.desk),
        "agents": await reads.active_agents(runtime.desk) if agent.supervisor else [],
        "media": await console_media.for_page(runtime, agent, key),
        "permalink": runtime.desk.planner.permalink(key)},
        error.status if error else 200, str(error) if error else None)


@router.get("/c/{ref}", response_class=HTMLResponse)
async def conversation_page(request: Request, ref: str, runtime: ServerDep, session: SessionDep) -> Response:
    """One conversation: transcript, desk record and actions."""
    return await _conversation(request, runtime, session, ref)


@router.get("/c/{ref}/audit", response_class=HTMLResponse)
async def audit_page(request: Request, ref: str, runtime: ServerDep, session: SessionDep) -> Response:
    """The conversation's audit trail (server/audit_timeline.py), for agents who may see it."""
    try:
        key = await reads.find(runtime.desk, ref)
        await reads.check_visible(runtime.desk, session.agent, key)
    except DeskError as refused:
        return render(request, "error.html", {"message": str(refused)}, refused.status)
    async with runtime.pool.connection() as conn:
        lines = [audit_timeline.line(e) for e in await audit_timeline.events_of(conn, ref)]
    return render(request, "audit.html", {"ref": ref, "lines": lines})


# --- Actions --------------------------------------------------------------------------------

Action = Callable[[str], Awaitable[Any]]


async def _act(request: Request, runtime: ServerParts, session: auth.Session, ref: str,
               done: str | Callable[[Any], str], action: Action) -> Response:
    """Run `action(key)`: done, back to the page (POST-redirect-GET) with `done` (or what it
    makes of the action's result); refused, the page again with the reason and a 4xx status."""
    try:
        result = await action(await reads.find(runtime.desk, ref))
    except DeskError as error:
        return await _conversation(request, runtime, session, ref, error=error)
    return _redirect(request, f"/console/c/{quote(ref, safe='')}",
                     done(result) if callable(done) else done)


@router.post("/c/{ref}/claim")
async def claim(request: Request, ref: str, runtime: ServerDep, session: CsrfSessionDep) -> Response:
    """Claim the conversation for the agent."""
    return await _act(request, runtime, session, ref, "Claimed: the conversation is yours.",
                      lambda key: actions.claim(runtime.desk, session.agent, key))


@router.post("/c/{ref}/takeover")
async def take_over(request: Request, ref: str, runtime: ServerDep, session: CsrfSessionDep) -> Response:
    """Take a conversation from the teammate working on it: explicit, and in the event log."""
    return await _act(request, runtime, session, ref, lambda previous: f"Taken over from {previous}.",
                      lambda key: actions.take_over(runtime.desk, session.agent, key))


@router.post("/c/{ref}/assign")
async def assign(request: Request, ref: str, runtime: ServerDep, session: CsrfSessionDep,
                 agent_id: Annotated[str, Form()] = "") -> Response:
    """Assign the conversation to an agent (supervisors only)."""
    return await _act(request, runtime, session, ref, f"Assigned to {agent_id}.",
                      lambda key: actions.assign(runtime.desk, session.agent, key, agent_id))


@router.post("/c/{ref}/transfer")
async def transfer(request: Request, ref: str, runtime: ServerDep, session: CsrfSessionDep,
                   team: Annotated[str, Form()] = "") -> Response:
    """Move the conversation to another team."""
    async def run(key: str) -> None:
        if not team.strip():
            raise Invalid("pick a team")
        await actions.transfer(runtime.desk, session.agent, key, team.strip())
    return await _act(request, runtime, session, ref, f"Transferred to {team.strip()}.", run)


@router.post("/c/{ref}/note")
async def note(request: Request, ref: str, runtime: ServerDep, session: CsrfSessionDep,
               text: Annotated[str, Form()] = "") -> Response:
    """Add an internal note (never sent to the customer)."""
    return await _act(request, runtime, session, ref, "Note added.",
                      lambda key: actions.note(runtime.desk, session.agent, key, text))


@router.post("/c/{ref}/reply")
async def reply(request: Request, ref: str, runtime: ServerDep, session: CsrfSessionDep,
                text: Annotated[str, Form()] = "", template: Annotated[str, Form()] = "",
                template_language: Annotated[str, Form()] = "") -> Response:
    """Send the customer a message: free text inside the 24-hour window, or a template offered
    for them with its parameters as `param_<name>` fields (the desk judges both)."""
    params = {field.removeprefix(PARAM_FIELD): str(value)
              for field, value in (await request.form()).multi_items() if field.startswith(PARAM_FIELD)}
    return await _act(request, runtime, session, ref, "Sent.", lambda key: actions.reply(
        runtime.desk, session.agent, key, text=text.strip() or None, template=template.strip() or None,
        template_language=template_language.strip(), params=params))


@router.post("/c/{ref}/resolve")
async def resolve(request: Request, ref: str, runtime: ServerDep, session: CsrfSessionDep,
                  csat: Annotated[str, Form()] = "") -> Response:
    """Resolve the conversation, optionally asking the customer for a CSAT rating."""
    return await _act(request, runtime, session, ref, "Resolved." + (" CSAT prompt sent." if csat else ""),
                      lambda key: actions.resolve(runtime.desk, session.agent, key, csat=bool(csat)))


@router.post("/c/{ref}/return")
async def return_to_bot(request: Request, ref: str, runtime: ServerDep, session: CsrfSessionDep,
                        notes: Annotated[str, Form()] = "") -> Response:
    """Hand the conversation back to the bot with notes for it."""
    return await _act(request, runtime, session, ref, "Returned to the bot.",
                      lambda key: actions.return_to_bot(runtime.desk, session.agent, key, notes.strip()))


# --- Live updates ---------------------------------------------------------------------------

@router.get("/events")
async def events(request: Request, runtime: ServerDep, session: SessionDep) -> StreamingResponse:
    """The live desk event stream (server-sent events)."""
    return StreamingResponse(live.desk_events(request, runtime, session.agent), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def startup(runtime: ServerParts, *, demo: DemoMode) -> None:
    """At server start: demo accounts exist in demo mode only (created, or disabled)."""
    await demo_accounts.apply_demo_mode(runtime.pool, demo.on, demo.why)
