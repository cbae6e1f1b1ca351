"""GET / is a small welcome page (not a 404) that links where to go next; the simulator only in
demo mode, and no inline script (the CSP allows none)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration


def links(html: str) -> set[str]:
    return set(re.findall(r'<a href="([^"]+)"', html))


async def test_the_welcome_page_in_demo_mode(start_server):
    server = await start_server()
    page = await server.http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert links(page.text) == {"/simulator", "/console", "/healthz", "/readyz", "/docs"}
    for target in links(page.text):  # every link leads somewhere real
        assert (await server.http.get(target)).status_code in (200, 303), target
    assert "<script" not in page.text.lower()
    assert not re.search(r"<[^>]*\son\w+\s*=", page.text, re.IGNORECASE)  # no onclick= and kin
    assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_outside_demo_mode_it_does_not_point_at_the_simulator(start_server):
    server = await start_server(demo_mode="off")
    page = await server.http.get("/")
    assert page.status_code == 200
    assert links(page.text) == {"/console", "/healthz", "/readyz"}
    assert "demo" not in page.text.lower()
    assert (await server.http.get("/simulator")).status_code == 404
