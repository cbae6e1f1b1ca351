"""Opaque conversation refs: what URLs, Slack alerts, live events and log lines show instead of
the conversation id (graph/base/conversation.py), which is a customer's phone number or BSUID.

    ref = "c_" + the first 20 hex digits (80 bits) of HMAC-SHA256(secret, key)

The secret is random, made once and kept in Postgres, so every process computes the same ref
for a key without a lookup (log lines), and nobody without the secret can compute one for a
number or reverse one (phone numbers are few enough to enumerate, so a plain hash would not
do). The HMAC is stored as its inner and outer pads, so Postgres computes the very same ref:
a trigger fills desk_conversations.ref on every insert, whoever inserts (server/migrations/0001_initial.sql),
and the console resolves a URL's ref through that indexed column.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from graph.base.conversation import ConversationId
from graph.base.sql import Conn, required

PREFIX = "c_"
HEX_DIGITS = 20
REF = re.compile(rf"^{PREFIX}[0-9a-f]{{{HEX_DIGITS}}}$")
# Postgres computes the same ref: conversation_ref() in server/migrations/0001_initial.sql.
UNSET = PREFIX + "?" * HEX_DIGITS
"""What a log line shows before setup(): never the key itself."""

_pads: tuple[bytes, bytes] | None = None


def hmac_pads(secret: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer padded keys for a secret of at most one block (64 bytes)."""
    if len(secret) > 64:
        raise ValueError("the secret must fit one SHA-256 block")
    block = secret.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def ref_with(pads: tuple[bytes, bytes], key: str) -> str:
    """The opaque id of a conversation key under the given HMAC pads."""
    inner, outer = pads
    digest = hashlib.sha256(outer + hashlib.sha256(inner + key.encode()).digest()).hexdigest()
    return PREFIX + digest[:HEX_DIGITS]


async def setup(conn: Conn) -> None:
    """Create the secret once (the first process wins) and load it into this process."""
    global _pads
    inner, outer = hmac_pads(secrets.token_bytes(32))
    await conn.execute("INSERT INTO conversation_ref_key (inner_pad, outer_pad) VALUES (%s, %s)"
                       " ON CONFLICT (id) DO NOTHING", (inner, outer))
    row = await (await conn.execute(
        "SELECT inner_pad, outer_pad FROM conversation_ref_key")).fetchone()
    row = required(row)  # inserted just above when missing
    _pads = (bytes(row["inner_pad"]), bytes(row["outer_pad"]))


def ready() -> bool:
    """Whether setup() has loaded the key, so ids can be made."""
    return _pads is not None


def ref(key: str) -> str:
    """The conversation's opaque id; raises before setup() (a wrong link is worse than none)."""
    if _pads is None:
        raise RuntimeError("conversation ids are not set up (server.conversation_ids.setup)")
    return ref_with(_pads, key)


THREAD_PREFIX = "wa:"


def thread_id(conversation: ConversationId) -> str:
    """The conversation's LangGraph thread, "wa:" + its opaque ref: checkpoints never hold the
    customer's number. Raises before setup(), like `ref`. (Threads named "wa:<number>" by older
    versions are renamed by server/migrations/0006_opaque_thread_ids.sql.)"""
    return THREAD_PREFIX + ref(conversation)


def for_log(key: str | None) -> str:
    """The ref to name a conversation in a log line: never the key, even before setup()."""
    if not key:
        return "-"
    return ref(key) if _pads is not None else UNSET


def is_ref(text: str) -> bool:
    """Whether text has a ref's shape: anything else (a phone number) is not looked up at all."""
    return bool(REF.match(text))
