"""The supervisors' dashboard in the console: figures and SVG charts for supervisors, 403 for
agents, the login page for nobody, 400 for a window it cannot read."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.integration.server.console.conftest import console_for
from tests.integration.server.reporting.scenario import Scenario

pytestmark = pytest.mark.integration


def figure(page: str, metric: str) -> str:
    match = re.search(rf'<tr data-metric="{re.escape(metric)}"><td>[^<]*</td><td>([^<]*)</td>', page)
    assert match, f"no {metric} row"
    return match[1]


async def test_supervisors_see_the_figures_and_charts_agents_do_not(start_server):
    server = await start_server(run_workers=False)
    scenario = Scenario(server.parts.pool)
    await scenario.seed()
    supervisor = await console_for(server, "supervisor")
    agent = await console_for(server, "agent")
    window = {"since": scenario.since.date().isoformat(), "until": scenario.until.date().isoformat()}
    try:
        page = await supervisor.http.get("/console/dashboard", params=window)
        assert page.status_code == 200, page.text
        assert '<dd data-figure="conversations">6</dd>' in page.text
        assert '<dd data-figure="containment_rate">33.3%</dd>' in page.text
        assert figure(page.text, "first_response_seconds.bot.p50") == "4.5"
        assert figure(page.text, "resolution_seconds.p95") == "3480"
        assert figure(page.text, "handoffs_by_reason.complaint") == "1"
        assert figure(page.text, "sla.missed_by_cause.claimed_no_reply") == "1"
        assert figure(page.text, "csat.average") == "3"
        assert figure(page.text, "cost_usd.total") == "0.06"
        assert page.text.count("<svg") == 5 and f"{scenario.day2.date()}: 2" in page.text
        assert "<script>" not in page.text and "cdn" not in page.text.lower()
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert 'href="/console/dashboard"' in (await supervisor.http.get("/console")).text

        refused = await agent.http.get("/console/dashboard", params=window)
        assert refused.status_code == 403 and "for supervisors" in refused.text
        assert "data-figure" not in refused.text
        assert 'href="/console/dashboard"' not in (await agent.http.get("/console")).text

        bad = await supervisor.http.get("/console/dashboard", params={"since": "7x"})
        assert bad.status_code == 400 and "is not a time" in bad.text
        reversed_window = await supervisor.http.get("/console/dashboard",
                                                    params={"since": "1d", "until": "2d"})
        assert reversed_window.status_code == 400

        default = await supervisor.http.get("/console/dashboard")  # the last 7 days
        assert default.status_code == 200 and default.text.count("<svg") == 5
    finally:
        await supervisor.aclose()
        await agent.aclose()


async def test_logged_out_it_sends_you_to_the_login_page(start_server):
    server = await start_server(run_workers=False)
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        response = await anonymous.get("/console/dashboard?since=7d")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")
