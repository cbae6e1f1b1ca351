"""Inbound WhatsApp webhooks (Meta's Cloud API and Twilio) turned into one model.

Pure functions only: `meta.verify_signature` / `meta.verify_subscription` / `meta.parse_webhook`
and `twilio.verify_signature` / `twilio.parse_form` return a `WebhookBatch` of
`InboundMessage` and `StatusUpdate`, or raise `MalformedPayload`. Routes do the I/O.
"""

from server.channels import meta, twilio
from server.channels.models import InboundMessage, MalformedPayload, StatusUpdate, WebhookBatch

__all__ = ["InboundMessage", "MalformedPayload", "StatusUpdate", "WebhookBatch", "meta", "twilio"]
