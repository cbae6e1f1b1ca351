"""The transcript's retained window: which old messages a turn drops from the state.

A conversation's state is checkpointed whole after every turn, so a transcript that only grows
makes every checkpoint bigger than the last. The input guardrail drops what lies before the
last CHECKPOINTS__KEEP_MESSAGES messages (LangGraph's RemoveMessage). What the graph needs
beyond the transcript lives in its own fields and is kept: the customer, verification, order
numbers, the pending handoff.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AnyMessage, HumanMessage, RemoveMessage


def _cut(messages: Sequence[AnyMessage], keep: int) -> int:
    """Where the kept window starts: at a customer message at or after len - keep, so an
    exchange stays whole and a tool result never loses the call it answers; else (no customer
    message there) at the first message that is not a tool result."""
    earliest = len(messages) - keep
    tail = range(earliest, len(messages))
    for test in (lambda m: isinstance(m, HumanMessage), lambda m: m.type != "tool"):
        found = next((i for i in tail if test(messages[i])), None)
        if found is not None:
            return found
    return 0  # nothing safe to cut at: keep it all this turn


def dropped(messages: Sequence[AnyMessage], keep: int) -> list[RemoveMessage]:
    """RemoveMessage updates for the messages before the retained window (none while the
    transcript is within `keep`)."""
    if len(messages) <= keep:
        return []
    return [RemoveMessage(id=m.id) for m in messages[:_cut(messages, keep)] if m.id]
