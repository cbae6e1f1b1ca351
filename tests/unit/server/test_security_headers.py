"""The security headers middleware on a bare ASGI app: every response, streamed ones too."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from server.security_headers import CSP, SecurityHeaders


async def plain(request):
    return PlainTextResponse("hi", headers={"x-frame-options": "ALLOWALL"})


async def stream(request):
    async def body():
        yield b"data: 1\n\n"
    return StreamingResponse(body(), media_type="text/event-stream")


APP = SecurityHeaders(Starlette(routes=[Route("/plain", plain), Route("/stream", stream)]))


async def test_headers_on_every_response_and_a_route_cannot_weaken_them():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://t") as http:
        for path in ("/plain", "/stream", "/missing", "/docs"):
            response = await http.get(path)
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers.get_list("x-frame-options") == ["DENY"]
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert (await http.get("/stream")).text == "data: 1\n\n"
        assert (await http.get("/plain")).headers["content-security-policy"] == CSP


async def test_only_the_api_docs_may_run_their_cdn_and_inline_script():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://t") as http:
        docs = (await http.get("/docs")).headers["content-security-policy"]
        other = (await http.get("/docsx")).headers["content-security-policy"]
    assert "cdn.jsdelivr.net" in docs and "cdn.jsdelivr.net" not in other
    assert "'unsafe-inline'" not in other.split("script-src")[1].split(";")[0]
