"""The supervisors' dashboard (/console/dashboard?since=7d&until=...): the service report's
figures (server/reporting/) and per-day bar charts drawn as inline SVG on the server. Agents
who are not supervisors get 403; a window that cannot be read gets 400."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from server.console.auth import AgentDep
from server.console.routes import render
from server.deps import ServerDep
from server.reporting import formats, window
from server.reporting.charts import bar_chart
from server.reporting.report import service_report

router = APIRouter(prefix="/console", tags=["console"])
CHARTS = (("conversations", "Conversations per day", ""),
          ("containment_rate", "Containment rate per day", ""),
          ("first_response_p50", "Bot first response p50 per day", " s"),
          ("handoffs", "Handoffs per day", ""),
          ("csat_average", "CSAT average per day", ""))
"""(figure of the per-day series, chart title, unit)."""


def charts(report: dict[str, Any]) -> list[tuple[str, Any]]:
    """(title, SVG) of each chart over the report's per-day series."""
    return [(title, bar_chart(title, [(day["date"], day[key]) for day in report["daily"]],
                              unit=unit)) for key, title, unit in CHARTS]


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request, runtime: ServerDep, agent: AgentDep, since: str = "7d",
                    until: str = "") -> Response:
    """The service report of the window, for supervisors."""
    if not agent.supervisor:
        return render(request, "error.html", {"message": "The dashboard is for supervisors."}, 403)
    try:
        start, end = window.window(since[:60], until[:60] or None)
    except window.BadWindow as error:
        return render(request, "error.html", {"message": str(error)}, 400)
    async with runtime.pool.connection() as conn:
        report = await service_report(conn, start, end)
    return render(request, "dashboard.html", {
        "report": report, "since": since, "until": until, "charts": charts(report),
        "summary": formats.summary_rows(report), "daily_columns": formats.DAILY_COLUMNS,
        "daily_rows": formats.daily_rows(report)})
