"""Which desk states mean a human owns the conversation: the one list every part reads.

`desk_conversations.state` (server/migrations/0001_initial.sql) is BOT, PENDING_AGENT, AGENT, CLOSED or
DORMANT. While it is one of HUMAN_STATES the bot sends nothing (the worker checks under the row's
lock), the console lists the conversation in its queue, and the SLA watcher counts the wait for
a human's first reply.
"""

from __future__ import annotations

HUMAN_STATES = ("PENDING_AGENT", "AGENT")
"""Waiting for a human (PENDING_AGENT) or with one (AGENT)."""
