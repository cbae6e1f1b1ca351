"""Customers' files in the console: the conversation page lists them (`for_page`) with
short-lived signed links, and GET /console/media/{id} serves one to the agent the link was made
for, with that agent's session, while the agent may see the conversation.

A local file is served by the app under its sniffed type (never the sender's), inline for
pictures, sound and video and as a download for documents; from S3 the browser is sent to a
presigned URL that lives a minute. A refused link answers 403 (bad or expired signature, another
agent's link) or 404 (no such file), never a 500.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse, Response

from server.console.auth import Agent, SessionDep
from server.deps import ServerDep
from server.desk import reads
from server.desk.desk import NotAllowed, NotFound
from server.media import checks, jobs
from server.media.store import disposition
from server.parts import ServerParts

router = APIRouter(prefix="/console", tags=["console"])
SHOWN_INLINE = ("image", "sticker", "audio", "voice", "video")


async def for_page(runtime: ServerParts, agent: Agent, key: str) -> list[dict[str, Any]]:
    """The conversation's media as the page shows it (the caller has checked the agent may
    see the conversation): each with a link when the file is kept."""
    if runtime.media is None:
        return []
    async with runtime.pool.connection() as conn:
        rows = await jobs.for_conversation(conn, key)
    for row in rows:
        row["url"] = runtime.media.links.url(row["id"], agent.id) if row["storage_key"] else None
        row["size"] = checks.size_text(row["size_bytes"]) if row["size_bytes"] else ""
    return rows


@router.get("/media/{media_id}")
async def media_file(media_id: str, runtime: ServerDep, session: SessionDep, exp: str = "",
                     sig: str = "") -> Response:
    """A customer's file for the console, to a logged-in agent or through a signed, expiring
    link."""
    if not (media_id.isascii() and media_id.isdigit() and len(media_id) <= 18) or runtime.media is None:
        raise HTTPException(404, "no such file")
    agent, number = session.agent, int(media_id)
    if not runtime.media.links.valid(number, agent.id, exp[:20], sig[:128]):
        raise HTTPException(403, "this link is not valid (expired, or made for someone else):"
                                 " reload the conversation")
    async with runtime.pool.connection() as conn:
        row = await jobs.one(conn, number)
    if row is None or not row["storage_key"] or row["content_type"] not in checks.EXTENSIONS:
        raise HTTPException(404, "no such file")
    try:  # the desk's rule, asked again: the conversation may have gone to another team since
        await reads.check_visible(runtime.desk, agent, row["conversation_key"])
    except NotFound as missing:
        raise HTTPException(404, "no such file") from missing
    except NotAllowed as refused:
        raise HTTPException(403, str(refused)) from refused
    inline = row["kind"] in SHOWN_INLINE
    name = download_name(row)
    target = await runtime.media.store.delivery(row["storage_key"], content_type=row["content_type"],
                                                download_name=name, inline=inline)
    headers = {"Cache-Control": "private, max-age=60"}
    if isinstance(target, Path):
        if not target.is_file():
            raise HTTPException(404, "the file is no longer kept")
        return FileResponse(target, media_type=row["content_type"], headers={
            **headers, "Content-Disposition": disposition(name, inline)})
    return RedirectResponse(target, status_code=303, headers=headers)


def download_name(row: dict[str, Any]) -> str:
    """The sender's file name (redacted at intake) with the extension of what the file really
    is, so that a "photo.jpg" that is a PDF opens as a PDF; else "<kind>-<id>.<ext>"."""
    extension = checks.extension(row["content_type"])
    stem = (row["filename"] or "").rsplit(".", 1)[0].strip() or f"{row['kind']}-{row['id']}"
    return f"{stem[:100]}.{extension}"
