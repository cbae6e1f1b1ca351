"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from server.deps import ServerDep
from server.outbox import problems

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(runtime: ServerDep) -> JSONResponse:
    """Postgres, Redis and Chroma all answer; 503 naming the ones that do not. `models` shows
    each model's circuit breaker; an open one does not make it 503: the offline brain serves.
    `outbox` reports messages failed or of unknown delivery in the last 24 hours and the open
    backlog (count, age of the oldest): a backlog is the providers' or the senders' trouble,
    which another replica would share, so it is reported, never a reason to be taken out."""
    async def postgres() -> None:
        async with runtime.pool.connection(timeout=2) as conn:
            await conn.execute("SELECT 1")

    async def redis() -> None:
        await runtime.redis.ping()

    async def chroma() -> None:
        knowledge = runtime.core.services.knowledge
        await asyncio.to_thread(knowledge.collection.count)

    async def outbox() -> dict[str, Any]:
        async with runtime.pool.connection(timeout=2) as conn:
            return await problems.backlog(conn, datetime.now(UTC))

    checks = {"postgres": postgres, "redis": redis, "chroma": chroma}
    *results, backlog = await asyncio.gather(
        *(asyncio.wait_for(c(), 3) for c in (*checks.values(), outbox)), return_exceptions=True)
    status = {name: "ok" if r is None else f"error: {type(r).__name__}"
              for name, r in zip(checks, results, strict=True)}
    ready = all(v == "ok" for v in status.values())
    models = runtime.core.services.model_states()
    outbox_view = f"error: {type(backlog).__name__}" if isinstance(backlog, BaseException) else backlog
    return JSONResponse({"ready": ready, **status, "models": models, "outbox": outbox_view},
                        status_code=200 if ready else 503)
