"""First contact: the business says who it is, that an automated assistant is writing and that
a person is available, in the first message it ever sends a customer (seed 004).

Decided in the server, where a message is queued (server/outbox/queue.py `enqueue_reply`),
not in the graph: the first message may be an agent's from the console, a late apology or a
fallback the graph never wrote, and only the server knows what this customer has been sent
before. The line goes before the first text part, in the transaction that queues it, and
`identified_at` is set there once (store.claim_identification): later messages, and a re-run
of the same turn, do not repeat it. A template (outside the 24-hour window) is sent as
approved, so it neither carries the line nor counts as the identification.
"""

from __future__ import annotations

from collections.abc import Sequence

from graph.base.settings import BusinessSettings
from graph.base.sql import Conn
from nodes import prompts
from nodes.prompts_i18n import localized, reply_language
from server.consent import store


def line(business: BusinessSettings, language: str | None) -> str:
    """The identification in the customer's language (one the business writes, else its first)."""
    chosen = reply_language(language, business.languages)
    return prompts.fill(localized(prompts.FIRST_CONTACT, chosen), business)


async def introduce(conn: Conn, key: str, texts: Sequence[str], introduction: str) -> list[str]:
    """`texts`, with `introduction` before the first when the business has not identified
    itself to this customer yet (and noting that it now has)."""
    if not texts or not await store.claim_identification(conn, key):
        return list(texts)
    return [f"{introduction}\n\n{texts[0]}", *texts[1:]]
