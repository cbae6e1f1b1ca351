"""The media table: one row per inbound media message, written in the transaction that stores
the message, so a file to fetch is never lost to a crash. The row is the fetch job (pending,
fetching under a lease, retried with growing pauses) and then the record agents see: stored
(type, size, storage key, a voice note's redacted transcript), refused (why) or failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from graph.base import media_text
from graph.base.pii import redact
from graph.base.sql import Conn
from server.channels.models import InboundMessage

COLUMNS = ("id, provider, provider_message_id, conversation_key, kind, provider_media_id,"
           " source_url, declared_type, filename, state, attempts, content_type, storage_key,"
           " transcript_state, created_at")
LEASE_S = 120
"""How long one fetch may hold its job; a fetcher that died is taken over after it."""


@dataclass(frozen=True)
class Job:
    """One file to fetch, as the queue stores it."""

    id: int
    provider: str
    provider_message_id: str
    conversation_key: str
    kind: str
    provider_media_id: str | None
    source_url: str | None
    declared_type: str | None
    filename: str | None
    state: str
    attempts: int
    content_type: str | None
    storage_key: str | None
    transcript_state: str | None
    created_at: datetime


def fetched(message: InboundMessage) -> bool:
    """Whether a message carries a file to fetch (an edit of a caption does not)."""
    return bool(message.media) and message.kind in media_text.MEDIA_KINDS


async def record(conn: Conn, messages: list[InboundMessage]) -> None:
    """Queue the files of newly stored messages (in the caller's transaction)."""
    rows = [{"provider": m.provider, "provider_message_id": m.provider_message_id,
             "conversation_key": m.conversation_id, "kind": m.kind,
             "provider_media_id": _short(m.media.get("id")), "source_url": _short(m.media.get("url"), 2048)
             if m.provider == "twilio" else None,  # Meta's is asked for by id, fresh, when fetching
             "declared_type": _short(m.media.get("mime_type"), 200),
             "filename": redact(_short(m.media.get("filename"), 200) or "")[0] or None}
            for m in messages if fetched(m) and m.media is not None]
    if rows:
        await conn.execute(
            "INSERT INTO inbound_media (provider, provider_message_id, conversation_key, kind,"
            " provider_media_id, source_url, declared_type, filename) SELECT * FROM"
            " jsonb_to_recordset(%s::jsonb) AS r(provider text, provider_message_id text,"
            " conversation_key text, kind text, provider_media_id text, source_url text,"
            " declared_type text, filename text) ON CONFLICT (provider, provider_message_id)"
            " DO NOTHING", (json.dumps(rows),))


async def claim(conn: Conn, limit: int) -> list[Job]:
    """Take due jobs (and those of a fetcher whose lease ran out), each for LEASE_S."""
    rows = await (await conn.execute(
        f"UPDATE inbound_media SET state = 'fetching', attempts = attempts + 1,"
        f" lease_until = now() + make_interval(secs => {LEASE_S}) WHERE id IN ("
        " SELECT id FROM inbound_media WHERE (state = 'pending' AND next_attempt_at <= now())"
        " OR (state = 'fetching' AND lease_until < now()) ORDER BY next_attempt_at"
        f" LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}", (limit,))).fetchall()
    return [Job(**row) for row in rows]


async def kept(conn: Conn, job: Job, *, content_type: str, size: int, sha256: str,
               storage_key: str) -> None:
    """The file is in the store (a retry then only transcribes)."""
    await conn.execute(
        "UPDATE inbound_media SET content_type = %s, size_bytes = %s, sha256 = %s,"
        " storage_key = %s WHERE id = %s AND attempts = %s",
        (content_type, size, sha256, storage_key, job.id, job.attempts))


async def finish(conn: Conn, job: Job, state: str, *, reason: str | None = None,
                 transcript: str | None = None, transcript_state: str | None = None) -> bool:
    """Settle the job: stored, refused or failed. A voice note's transcript becomes its inbox
    text if no turn has taken it yet; the media row keeps it redacted. False when another
    fetcher had taken the job over (its attempt counts, not this one)."""
    done = await conn.execute(
        "UPDATE inbound_media SET state = %s, reason = %s, transcript = %s,"
        " transcript_state = coalesce(%s, transcript_state), source_url = NULL,"
        " lease_until = NULL, settled_at = now() WHERE id = %s AND attempts = %s",
        (state, reason, redact(transcript)[0] if transcript else None, transcript_state,
         job.id, job.attempts))
    if done.rowcount and transcript:
        await conn.execute(
            "UPDATE inbound_messages SET body = %s WHERE provider = %s AND provider_message_id = %s"
            " AND state = 'pending'",
            (media_text.transcribed(transcript), job.provider, job.provider_message_id))
    return bool(done.rowcount)


async def retry_later(conn: Conn, job: Job, reason: str, pause_s: float) -> None:
    """Put the job back for a later try after a transient failure."""
    await conn.execute(
        "UPDATE inbound_media SET state = 'pending', reason = %s, lease_until = NULL,"
        " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s AND attempts = %s",
        (reason, pause_s, job.id, job.attempts))


async def awaiting_transcript(conn: Conn, conversation_key: str, wait_s: float) -> bool:
    """Whether an unanswered voice note of this conversation is still being fetched or
    transcribed, and arrived less than `wait_s` ago: its turn should wait for the words."""
    row = await (await conn.execute(
        "SELECT 1 FROM inbound_media m JOIN inbound_messages i ON i.provider = m.provider"
        " AND i.provider_message_id = m.provider_message_id WHERE m.conversation_key = %s"
        " AND m.kind = ANY(%s) AND m.state IN ('pending', 'fetching') AND i.state = 'pending'"
        " AND m.created_at > now() - make_interval(secs => %s) LIMIT 1",
        (conversation_key, sorted(media_text.HEARD_KINDS), wait_s))).fetchone()
    return row is not None


async def for_conversation(conn: Conn, key: str, limit: int = 50) -> list[dict]:
    """The conversation's media, newest first, as the console lists it."""
    return await (await conn.execute(
        "SELECT id, kind, state, reason, content_type, size_bytes, filename, storage_key,"
        " transcript, transcript_state, created_at FROM inbound_media"
        " WHERE conversation_key = %s ORDER BY id DESC LIMIT %s", (key, limit))).fetchall()


async def one(conn: Conn, media_id: int) -> dict | None:
    """One stored file's record, or None."""
    return await (await conn.execute(
        "SELECT id, conversation_key, kind, state, content_type, filename, storage_key"
        " FROM inbound_media WHERE id = %s", (media_id,))).fetchone()


def _short(value, limit: int = 256) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None
