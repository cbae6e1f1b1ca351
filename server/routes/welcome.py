"""GET /: a small page that says what this server is and links where to go next: the simulator
(demo mode only: server/demo_mode.py decides), the agent console, the health endpoints."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

router = APIRouter(tags=["welcome"])
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def welcome(request: Request) -> HTMLResponse:
    """The welcome page (it says whether demo mode is on)."""
    demo = getattr(request.app.state, "demo_mode", None)
    return templates.TemplateResponse(request, "welcome.html", {"demo": bool(demo and demo.on)})
