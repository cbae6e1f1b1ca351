"""Who `switchboard forget PHONE_OR_ID` means: a phone number in any format (normalised to
digits the way the webhook parsers do), a business-scoped user id ("bsuid:..."), or an opaque
ref ("c_" + 20 hex digits, as URLs and logs show), turned into the `Subject` the data map
erases."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from graph.base.conversation import BSUID_PREFIX, ConversationId, phone_of
from graph.base.sql import Conn
from server import conversation_ids
from server.channels.models import MalformedPayload, phone_digits
from server.desk import erasure as desk
from server.privacy.data_map import Subject

SEPARATORS = re.compile(r"[\s().\-/]")
"""What people type between a number's digits: spaces, dashes, dots, brackets, slashes."""
WHATSAPP_PREFIX = "whatsapp:"
_KEYED_TABLES = ("inbound_messages", "outbox", "turns", "inbound_media", "conversation_fences")
"""Tables keyed by conversation key where a ref is looked for when the desk does not know it."""


class NotAnIdentifier(ValueError):
    """The text is neither a phone number, a bsuid nor a ref (the message never repeats it)."""


def conversation_key(identifier: str) -> str | None:
    """The conversation key of a phone number or bsuid; None for a ref. NotAnIdentifier for
    anything else."""
    text = identifier.strip()
    if conversation_ids.is_ref(text):
        return None
    if text.lower().startswith(BSUID_PREFIX):
        user_id = text[len(BSUID_PREFIX):].strip()
        if not user_id or not user_id.isprintable() or len(user_id) > 128:
            raise NotAnIdentifier("not a business-scoped user id")
        return BSUID_PREFIX + user_id
    text = text.removeprefix(WHATSAPP_PREFIX)
    try:
        digits = phone_digits(SEPARATORS.sub("", text), "identifier")
    except MalformedPayload:
        digits = None
    if not digits or len(digits) < 6:
        raise NotAnIdentifier("not a phone number, a bsuid: id or a conversation ref (c_...)")
    return digits


async def key_of_ref(conn: Conn, ref: str) -> str | None:
    """The conversation key behind a ref: from the desk, else from our keyed tables (by
    Postgres's own conversation_ref(), which computes the same HMAC)."""
    if key := await desk.key_of_ref(conn, ref):
        return key
    union = " UNION ".join(f"SELECT conversation_key FROM {t}" for t in _KEYED_TABLES)
    # Materialised: the HMAC is computed once per distinct key, not once per row.
    row = await (await conn.execute(
        f"WITH k AS MATERIALIZED ({union}) SELECT conversation_key FROM k"
        " WHERE conversation_ref(conversation_key) = %s LIMIT 1", (ref,))).fetchone()
    return row["conversation_key"] if row else None


async def subject_of(conn: Conn, identifier: str,
                     number_key: Callable[[str], Awaitable[str]]) -> Subject:
    """The customer an identifier names. `number_key` is the ledger's hash of a number
    (tools/verification.py `VerificationLedger.number_key`). A ref nobody has keeps its key
    unknown: the subject then holds the ref alone (its threads and audit events)."""
    key = conversation_key(identifier)
    ref = identifier.strip() if key is None else conversation_ids.ref(key)
    if key is None:
        key = await key_of_ref(conn, ref)
    keys = [key] if key else []
    phones = [p for p in (phone_of(ConversationId(k)) for k in keys) if p]
    return Subject(keys=keys, refs=[ref], number_keys=[await number_key(p) for p in phones])
