"""GET /metrics: Prometheus's scrape (server/metrics.py; the list is in docs/metrics.md).

Open unless METRICS__TOKEN is set; then a request must carry `Authorization: Bearer <token>`
(401 otherwise, compared in constant time). Rendering reads files in multi-process mode, so it
runs in a thread and never stalls the event loop that acknowledges webhooks.
"""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, HTTPException, Request, Response

from server import metrics
from server.deps import SettingsDep

router = APIRouter(tags=["metrics"])


def require_token(request: Request, token: str | None) -> None:
    """401 unless the request carries the bearer token (when one is configured)."""
    if token is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise HTTPException(401, "metrics need a bearer token", headers={"WWW-Authenticate": "Bearer"})


@router.get("/metrics", include_in_schema=False)
async def scrape(request: Request, settings: SettingsDep) -> Response:
    """Every switchboard_* metric in Prometheus's text format."""
    secret = settings.metrics.token
    require_token(request, secret.get_secret_value() if secret else None)
    body = await asyncio.to_thread(metrics.exposition)
    return Response(body, media_type=metrics.CONTENT_TYPE)
