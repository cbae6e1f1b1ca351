"""The outbox: the one send path for bot (and later human) replies to WhatsApp.

A turn commits its replies here in its own transaction, under idempotency keys, so a re-run
turn inserts nothing new. `OutboxWorker` sends due rows one at a time per recipient and in
order, paced per business number and per recipient, retries what Meta says is transient and
records the rest.

Each call is recorded before it is made: the row is claimed ('sending', one more attempt, a
claim deadline). The Cloud API has no idempotency key, so when the outcome is unknown (the call
timed out, or the worker died) the row waits for a status webhook instead: every send carries
its outbox id (Meta's biz_opaque_callback_data, the Twilio status callback URL), which the
statuses echo, so a message that did go is settled rather than sent twice. If no status comes
within `OutboxSettings.status_wait_s` it is sent again, up to `resends` times, and then the desk
shows agents that its delivery is unknown: a lost reply is made visible, a double send is rare.

Nothing waits forever: a message whose provider has no sender (providers.senders_from decides
which exist), or that the provider refuses for good, is failed with the reason, and the desk
shows it to agents, as it does failures reported by status webhooks (problems.py).

Nothing goes to a customer who opted out (STOP) but the confirmation of it: opt_out.py.
"""

from server.outbox.pacing import Bucket, Pacer
from server.outbox.providers import senders_from
from server.outbox.queue import (
    STATUSES,
    TEXT_LIMITS,
    WHATSAPP_TEXT_LIMIT,
    apply_status,
    enqueue_read_receipt,
    enqueue_reply,
    enqueue_template,
    split_for_whatsapp,
)
from server.outbox.senders import (
    PERMANENT_CODES,
    RECORDED_CODES,
    RETRYABLE_CODES,
    CloudApiSender,
    NotSendable,
    Sender,
    SendError,
    SendOutcomeUnknown,
    SendUnreachable,
    is_retryable,
)
from server.outbox.twilio_sender import TwilioSender
from server.outbox.worker import OutboxWorker

__all__ = [
    "PERMANENT_CODES", "RECORDED_CODES", "RETRYABLE_CODES", "STATUSES",
    "TEXT_LIMITS", "WHATSAPP_TEXT_LIMIT", "Bucket", "CloudApiSender", "NotSendable", "OutboxWorker",
    "Pacer", "SendError", "SendOutcomeUnknown", "SendUnreachable", "Sender", "TwilioSender",
    "apply_status", "enqueue_read_receipt", "enqueue_reply", "enqueue_template", "is_retryable", "senders_from",
    "split_for_whatsapp",
]
