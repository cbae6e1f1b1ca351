"""Runs golden conversations through the real turn path and checks each turn.

Each conversation starts empty on its own number (a number on file is forgotten first; else a
new unknown number), and each message goes through `Conversations.handle`, as the turn worker
sends it. A `late` message goes where the worker sends a late batch instead
(server/inbound/late_messages.py `is_late`, `hand_over`): the graph does not answer it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from langchain_core.language_models import BaseChatModel

from graph.base.conversation import ConversationId, conversation_id
from server.conversations import Conversations, Turn
from server.evals.checks import Check, check_turn, missing_facts
from server.evals.golden import GoldenConversation, GoldenTurn
from server.evals.judge import judge_facts
from server.inbound import late_messages
from server.inbound.inbox import StoredMessage


@dataclass
class TurnResult:
    """One golden turn as it ran: what the customer sent, the replies, the checks."""

    said: str
    replies: list[str]
    checks: list[Check]
    latency_s: float
    cost_usd: float
    intent: str | None
    tool_calls: list[dict[str, Any]]
    handoff_reason: str | None
    judged_stated: list[str] = field(default_factory=list)
    """Facts not found verbatim that the LLM judge found stated (they pass)."""

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass
class ScenarioResult:
    """One golden conversation's turns; `error` when it could not be run to the end."""

    name: str
    kind: str
    turns: list[TurnResult] = field(default_factory=list)
    error: str | None = None

    @property
    def checks(self) -> list[Check]:
        return [c for t in self.turns for c in t.checks]

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.checks)


@dataclass
class Report:
    """Every scenario's result and the totals a business compares models by."""

    scenarios: list[ScenarioResult]
    brain: str
    judge: str | None = None

    @property
    def checks(self) -> list[Check]:
        return [c for s in self.scenarios for c in s.checks]

    @property
    def check_pass_rate(self) -> float:
        checks = self.checks
        return sum(c.passed for c in checks) / len(checks) if checks else 0.0

    def by_check(self) -> dict[str, tuple[int, int]]:
        """(passed, total) per kind of check."""
        totals: dict[str, tuple[int, int]] = {}
        for check in self.checks:
            passed, total = totals.get(check.name, (0, 0))
            totals[check.name] = (passed + check.passed, total + 1)
        return totals

    def totals(self) -> dict[str, Any]:
        turns = [t for s in self.scenarios for t in s.turns]
        latencies = sorted(t.latency_s for t in turns) or [0.0]
        return {
            "scenarios": len(self.scenarios),
            "scenarios_passed": sum(s.passed for s in self.scenarios),
            "turns": len(turns), "turns_passed": sum(t.passed for t in turns),
            "checks": len(self.checks), "checks_passed": sum(c.passed for c in self.checks),
            "check_pass_rate": round(self.check_pass_rate, 4),
            "cost_usd": round(sum(t.cost_usd for t in turns), 6),
            "latency_s_mean": round(sum(latencies) / len(latencies), 3),
            "latency_s_p95": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 3),
            "by_check": {name: {"passed": p, "total": t} for name, (p, t) in self.by_check().items()},
        }

    def as_json(self) -> dict[str, Any]:
        """The whole report as plain data (`--json`)."""
        return {"brain": self.brain, "judge": self.judge, "totals": self.totals(),
                "scenarios": [{"name": s.name, "kind": s.kind, "passed": s.passed, "error": s.error,
                               "turns": [{**asdict(t), "passed": t.passed} for t in s.turns]}
                              for s in self.scenarios]}


class GoldenRunner:
    """Runs golden conversations on one `Conversations` (the composition root's core)."""

    def __init__(self, conversations: Conversations, *, stale_after_s: float,
                 judge: BaseChatModel | None = None):
        self.conversations, self.stale_after_s, self.judge = conversations, stale_after_s, judge

    async def run(self, golden: Sequence[GoldenConversation], *,
                  progress: Callable[[GoldenConversation], None] | None = None
                  ) -> list[ScenarioResult]:
        results = []
        for conversation in golden:
            if progress:
                progress(conversation)
            results.append(await self.run_one(conversation))
        return results

    async def run_one(self, golden: GoldenConversation) -> ScenarioResult:
        """One conversation from an empty start; a turn that raises ends it with `error`."""
        conversation = conversation_id(golden.phone or _unknown_number())
        await self.conversations.forget(conversation)
        result = ScenarioResult(golden.name, golden.kind)
        for number, turn in enumerate(golden.turns, 1):
            try:
                result.turns.append(await self._run_turn(conversation, turn))
            except Exception as error:  # report it and carry on with the next scenario
                result.error = f"turn {number}: {type(error).__name__}: {error}"
                break
        await self.conversations.forget(conversation)
        return result

    async def _run_turn(self, conversation: ConversationId, golden: GoldenTurn) -> TurnResult:
        before = await self.conversations.state(conversation)
        seen = {message.id for message in before.get("messages", [])}  # by id: old ones may be dropped
        started = time.perf_counter()
        turn = await (self._late(conversation, golden.text) if golden.late
                      else self.conversations.handle(conversation, golden.text))
        latency = time.perf_counter() - started
        after = await self.conversations.state(conversation)
        calls = [{"name": call["name"], "args": call["args"]}
                 for message in after.get("messages", []) if message.type == "ai" and message.id not in seen
                 for call in message.tool_calls if call["name"] != "Reply"]
        reply = "\n".join(turn.replies)
        judged = None
        if self.judge is not None and (missing := missing_facts(golden.must_contain, reply)):
            judged = await judge_facts(self.judge, missing, reply)
        intent = after.get("intent")
        checks = check_turn(golden, intent=intent, calls=calls, reply=reply,
                            handed_off=turn.handoff is not None, judged=judged)
        return TurnResult(said=golden.text, replies=turn.replies, checks=checks,
                          latency_s=round(latency, 4),
                          cost_usd=_cost(after) - _cost(before), intent=intent,
                          tool_calls=calls,
                          handoff_reason=turn.handoff.get("reason") if turn.handoff else None,
                          judged_stated=[fact for fact, stated in (judged or {}).items() if stated])

    async def _late(self, conversation: ConversationId, text: str) -> Turn:
        """The turn the worker runs for a batch that reached us late: a human's, not the bot's."""
        now = datetime.now(UTC)
        sent = now - timedelta(seconds=self.stale_after_s + 3600)
        batch = [StoredMessage(id=0, provider="eval", provider_message_id=secrets.token_hex(8),
                               conversation_key=conversation, phone=None, body=text,
                               needs_turn=True, sent_at=sent, state="in_turn", turn_key=None)]
        if not late_messages.is_late(batch, now, self.stale_after_s):
            raise AssertionError("the late message is not late by the server's rule")
        return await late_messages.hand_over(self.conversations, None, conversation=conversation,
                                             batch=batch, turn_key=f"eval:{secrets.token_hex(6)}",
                                             now=now)


def _cost(state: dict[str, Any]) -> float:
    return float((state.get("usage") or {}).get("cost_usd", 0.0))


def _unknown_number() -> str:
    """A number that is not on file (the demo shop's are 4477009001xx)."""
    return "4479" + "".join(secrets.choice("0123456789") for _ in range(8))
