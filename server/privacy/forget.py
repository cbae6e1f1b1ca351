"""`switchboard forget`: erase everything about one customer, from every place in the data
map (server/privacy/data_map.py), in one transaction, then their Redis keys.

Order and failure: the SQL part (inbox, outbox, turns, fences, media rows, verification
attempts, desk records, LangGraph checkpoints through `adelete_thread` on the same connection,
audit events with one tombstone) commits at once or not at all. Media files are deleted inside
that transaction, before the rows: should the commit fail, the rows still name the files and
forgetting again finishes (a missing file is no error). Redis keys (due set, running set,
lease, pacing bucket) are cleared after the commit; all of them expire or are dropped by the
worker within seconds on their own, and forgetting a number or bsuid again clears them too.
A turn in flight for the customer while this runs may still commit its rows: stop sending
their messages first, or forget again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import redis.asyncio as aioredis

from graph.base.conversation import ConversationId, recipient_of
from graph.base.sql import Pool
from server.conversation_ids import for_log
from server.inbound.lease import LEASE, RUNNING
from server.inbound.scheduler import DUE
from server.media.store import MediaStore
from server.outbox.worker import PACE_PAIR
from server.privacy.data_map import PLACES, Scope, Subject
from server.privacy.identify import subject_of
from tools.verification import VerificationLedger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Forgotten:
    """What an erasure removed: rows (or threads, files' rows) per place."""

    ref: str
    removed: dict[str, int]
    redis_keys: int


class Eraser:
    """Erases customers (`forget`), with the process's pool, media store, Redis and ledger."""

    def __init__(self, pool: Pool, store: MediaStore, redis: aioredis.Redis,
                 ledger: VerificationLedger):
        self.pool, self.store, self.redis, self.ledger = pool, store, redis, ledger

    async def forget(self, identifier: str, *, by: str) -> Forgotten | None:
        """Erase the customer `identifier` names (see server/privacy/identify.py); None when
        nothing of them is stored. `by` is the audit tombstone's actor. NotAnIdentifier for
        text that names nobody."""
        async with self.pool.connection() as conn, conn.transaction():
            subject = await subject_of(conn, identifier, self.ledger.number_key)
            found = {place.name: await place.count(conn, subject) for place in PLACES}
            removed: dict[str, int] = {}
            if any(found.values()):
                scope = Scope(conn, self.store, by)
                removed = {place.name: await place.erase(scope, subject) for place in PLACES}
        cleared = await self._clear_redis(subject)
        if not removed:
            return None
        log.info("forgot conversation %s (%d rows)", subject.refs[0], sum(removed.values()))
        return Forgotten(subject.refs[0], removed, cleared)

    async def _clear_redis(self, subject: Subject) -> int:
        """The customer's scheduling and pacing keys; a failure is one log line (they expire)."""
        try:
            cleared = 0
            for key in subject.keys:
                recipient = recipient_of(ConversationId(key))
                pacing = [k async for k in self.redis.scan_iter(match=f"{PACE_PAIR}*:{_glob_escaped(recipient)}")]
                cleared += int(await self.redis.zrem(DUE, key)) + int(await self.redis.zrem(RUNNING, key))
                cleared += int(await self.redis.delete(LEASE + key, *pacing))
            return cleared
        except (aioredis.RedisError, OSError) as error:
            log.warning("forget: Redis keys of %s not cleared (%s); they expire on their own,"
                        " or forget again", for_log(subject.keys[0] if subject.keys else None),
                        type(error).__name__)
            return 0


def _glob_escaped(text: str) -> str:
    """Text matched literally by a Redis SCAN pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
