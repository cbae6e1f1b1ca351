"""WhatsApp's customer service window: 24 hours from the customer's latest message.

Inside it a business may write free text; outside it only an approved template, and the
conversation's session has lapsed. The one rule read by the graph (a lapsed window starts a new
session: identity is checked again), the outbox (free text or the window template), the desk
(agents write free text only while it is open) and the worker (bot conversations go DORMANT).
"""

from __future__ import annotations

from datetime import datetime, timedelta

CUSTOMER_WINDOW = timedelta(hours=24)
"""Also the interval behind the worker's SQL that marks lapsed conversations DORMANT."""


def is_open(last_customer_at: datetime | None, now: datetime) -> bool:
    """May free text still reach a customer who last wrote at `last_customer_at`? (Never
    wrote: no.) Exactly 24 hours on is still open."""
    return last_customer_at is not None and now - last_customer_at <= CUSTOMER_WINDOW
