"""The outbox: the one send path for bot (and later human) replies to WhatsApp.

A turn commits its replies here in its own transaction, under idempotency keys, so a re-run
turn inserts nothing new. `OutboxWorker` sends due rows in order per recipient, paced per
business number and per recipient, retries what Meta says is transient and records the rest.

Delivery is at-most-once: a row is marked 'sending' before the call and 'sent' after it. If
the worker dies in between, nobody knows whether Meta accepted the message, and the Cloud API
has no idempotency key to ask it; the row becomes 'unknown' after a lease instead of being
sent again, because a lost reply is visible in the inbox while a double send is not undoable.
"""

from server.outbox.pacing import Bucket, Pacer
from server.outbox.queue import (
    CUSTOMER_WINDOW,
    SCHEMA,
    STATUSES,
    WHATSAPP_TEXT_LIMIT,
    apply_status,
    enqueue_read_receipt,
    enqueue_reply,
    setup,
    split_for_whatsapp,
)
from server.outbox.senders import (
    RECORDED_CODES,
    RETRYABLE_CODES,
    CloudApiSender,
    Sender,
    SendError,
    SendOutcomeUnknown,
    SendUnreachable,
    TwilioSender,
    is_retryable,
)
from server.outbox.worker import OutboxWorker

__all__ = [
    "CUSTOMER_WINDOW", "RECORDED_CODES", "RETRYABLE_CODES", "SCHEMA", "STATUSES",
    "WHATSAPP_TEXT_LIMIT", "Bucket", "CloudApiSender", "OutboxWorker", "Pacer", "SendError",
    "SendOutcomeUnknown", "SendUnreachable", "Sender", "TwilioSender", "apply_status",
    "enqueue_read_receipt", "enqueue_reply", "is_retryable", "setup", "split_for_whatsapp",
]
