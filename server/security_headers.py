"""Browser-side defences on every response (console, webhooks, health, simulator, errors):
no script but the app's own files, no framing (clickjacking), no MIME sniffing, no referrer
leaving the site. A plain ASGI middleware, so streamed responses (the console's live events)
pass through untouched.

Scripts live in server/static/ and are loaded with <script src>; inline <script> blocks and on*
attributes do not run. Inline styles stay allowed: they cannot run code. Customers' pictures
and voice notes load from the app itself, or, with media kept in S3, from that bucket's
endpoint, which `media_origins` adds to img-src and media-src only (docs/media.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
       " connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self';"
       " frame-ancestors 'none'")
API_DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;"
                " style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;"
                " img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly;"
                " worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none';"
                " frame-ancestors 'none'")
"""FastAPI's /docs and /redoc pages (demo mode only) load Swagger UI / ReDoc from a CDN and
start them with an inline script: they get a policy that lets exactly that run."""
API_DOCS_PATHS = ("/docs", "/redoc")

HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def with_media_origins(csp: str, origins: Sequence[str]) -> str:
    """The policy that also lets pictures, sound and video load from `origins` (an S3 bucket's
    presigned URLs, server/media/store.py): those two directives only, no script or frame."""
    if not origins:
        return csp
    extra = " ".join(origins)
    return csp.replace("img-src 'self' data:;", f"img-src 'self' data: {extra}; media-src 'self' {extra};")


def headers_for(path: str, media_origins: Sequence[str] = ()) -> list[tuple[bytes, bytes]]:
    """The security headers (CSP and the like) for a response to this path."""
    csp = API_DOCS_CSP if path in API_DOCS_PATHS or path.startswith("/docs/") else \
        with_media_origins(CSP, media_origins)
    return [(b"content-security-policy", csp.encode())] + [
        (name.encode(), value.encode()) for name, value in HEADERS.items()]


class SecurityHeaders:
    """Sets the headers above on every HTTP response, replacing any a route set itself."""

    def __init__(self, app: ASGIApp, media_origins: Sequence[str] = ()):
        self.app, self.media_origins = app, tuple(media_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope.get("path", ""), self.media_origins)
        names = {name for name, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)
