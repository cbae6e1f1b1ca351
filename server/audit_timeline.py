"""One conversation's audit trail as people read it: which conversation a ref, number or BSUID
names, and each event as one line (time UTC, turn, actor, kind, what). The CLI
(`switchboard audit`, server/cli/audit.py) and the console's panel both read it here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from graph.base import audit
from graph.base.conversation import BSUID_PREFIX, conversation_id
from graph.base.sql import Conn
from server.conversation_ids import is_ref, ref

_PHONE = re.compile(r"^\+?[\d\s().-]{6,20}$")


def conversation_ref(text: str) -> str:
    """The opaque ref a CONVERSATION argument names: a ref as it is, a phone number (digits,
    with or without +, spaces, dashes), or a BSUID ("bsuid:..." or bare). ValueError when
    it is empty."""
    text = text.strip()
    if not text:
        raise ValueError("name a conversation: its ref (c_...), phone number or BSUID")
    if is_ref(text):
        return text
    if _PHONE.match(text):
        return ref(conversation_id(re.sub(r"\D", "", text)))
    return ref(conversation_id(None, text.removeprefix(BSUID_PREFIX)))


async def events_of(conn: Conn, conversation: str) -> list[dict[str, Any]]:
    """The conversation's events, oldest first, as plain rows."""
    return await audit.timeline(conn, conversation)


def what(event: Mapping[str, Any]) -> str:
    """The event's reason and its telling details, in one line."""
    payload = event.get("payload") or {}
    parts = [str(event["reason"])] if event.get("reason") else []
    if event.get("intent"):
        parts.append(f"intent={event['intent']} confidence={event.get('confidence')}")
    if event.get("model"):
        cost = event.get("cost_usd")
        parts.append(f"model={event['model']} tokens={event.get('tokens_in')}/"
                     f"{event.get('tokens_out')} cost=${float(cost or 0):.5f}")
    for name in ("brain", "tool", "method", "type", "length", "language", "outbox_id", "code",
                 "actions", "breaker", "assigned_agent", "team", "to_state"):
        if payload.get(name) not in (None, "", []):
            parts.append(f"{name}={_text(payload[name])}")
    return " · ".join(parts) or "-"


def _text(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def line(event: Mapping[str, Any]) -> dict[str, Any]:
    """One event as the timeline shows it (and as `--format json` prints it)."""
    at = event["at"]
    cost = event.get("cost_usd")
    return {"at": at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if isinstance(at, datetime) else at,
            "turn": event.get("turn"), "actor": event["actor"], "kind": event["kind"],
            "what": what(event), "reason": event.get("reason"), "payload": event.get("payload") or {},
            "model": event.get("model"), "tokens_in": event.get("tokens_in"),
            "tokens_out": event.get("tokens_out"),
            "cost_usd": float(cost) if isinstance(cost, Decimal | float | int) else None,
            "intent": event.get("intent"), "confidence": event.get("confidence")}
