"""The server's decisions as audit events (graph/base/audit.py): a stored customer message,
the end of a turn (its reply or its silence, with the graph's decisions stamped with the
conversation's ref), and an outgoing message's status. Pure mappings: the callers record them
in the transaction that makes the change (server/inbound/intake.py, server/inbound/turn.py,
server/outbox/; `record_send` writes a send's). No text, number or e-mail goes in: ids,
kinds, lengths, counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from graph.base.audit import AuditEvent, AuditKind, record
from graph.base.language import detect_language
from graph.base.sql import Conn
from server.channels.models import InboundMessage
from server.conversation_ids import ref

if TYPE_CHECKING:
    from server.conversations import Turn

SYSTEM, BOT, CUSTOMER = "system", "bot", "customer"


def inbound_event(message: InboundMessage) -> AuditEvent:
    """A customer message was stored: its id, type, length and language, never its text."""
    return AuditEvent(
        kind=AuditKind.INBOUND, actor=CUSTOMER, conversation_ref=ref(message.conversation_id),
        reason=message.kind,
        payload={"provider": message.provider, "message_id": message.provider_message_id,
                 "type": message.kind, "length": len(message.text),
                 "language": detect_language(message.text), "needs_turn": message.needs_turn})


def turn_events(turn: Turn, *, key: str, outcome: tuple[str, str | None]) -> list[AuditEvent]:
    """A committed turn's events: the graph's decisions, then its reply or its silence. Each
    is stamped with the conversation's ref and the turn's number (State.turn)."""
    conversation_ref, number = ref(key), turn.state.get("turn")
    decisions = [replace(e, conversation_ref=conversation_ref,
                         turn=e.turn if e.turn is not None else number) for e in turn.decisions]
    ended, reason = outcome
    if turn.replies:
        last = AuditEvent(kind=AuditKind.REPLY, actor=BOT, conversation_ref=conversation_ref,
                          turn=number, reason=reason or ended,
                          payload={"parts": len(turn.replies),
                                   "length": sum(len(r) for r in turn.replies),
                                   "choices": len(turn.choices), "outcome": ended})
    else:
        last = AuditEvent(kind=AuditKind.SILENCE, actor=BOT, conversation_ref=conversation_ref,
                          turn=number, reason=reason or ended, payload={"outcome": ended})
    return [*decisions, last]


def send_event(row: Mapping[str, Any], status: str, *, error: Mapping[str, Any] | None = None,
               by_status_webhook: bool = False) -> AuditEvent | None:
    """An outgoing message's new status (sent, delivered, read, failed...); read receipts are
    cosmetic and not recorded."""
    if row.get("kind") == "read_receipt":
        return None
    payload: dict[str, Any] = {"outbox_id": row["id"], "kind": row.get("kind"),
                               "provider": row.get("provider"),
                               "source": "status_webhook" if by_status_webhook else "sender"}
    if error and error.get("code") is not None:
        payload["code"] = error.get("code")
    return AuditEvent(kind=AuditKind.SEND, actor=SYSTEM,
                      conversation_ref=ref(row["conversation_key"]), reason=status, payload=payload)


async def record_send(conn: Conn, row: Mapping[str, Any], status: str, *,
                      error: Mapping[str, Any] | None = None, by_status_webhook: bool = False) -> None:
    """Record a send's new status in the caller's transaction (nothing for a read receipt)."""
    event = send_event(row, status, error=error, by_status_webhook=by_status_webhook)
    if event is not None:
        await record(conn, event)
