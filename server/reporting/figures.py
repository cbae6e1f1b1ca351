"""The report's figures from its facts (facts.py, server/desk/report_facts.py): pure
functions, so each definition is here once and unit-tested. For a window [since, until):

- conversations: conversations with a customer message that calls for an answer received in
  the window. Each is followed from its first such message ("start") on, also past `until`.
- first_response_seconds.bot: start -> the first bot reply queued after it was sent (outbox
  sent_at). .human: a handoff made in the window -> the first agent reply after it was sent
  (before the conversation's next handoff).
- resolution_seconds: start -> an agent first resolved the conversation (desk state CLOSED).
- containment_rate: conversations the bot answered (a bot reply sent after the start) with no
  human taking part after the start (no handoff, no agent claiming or answering), over all
  conversations; None with no conversations.
- handoffs_by_reason: handoffs made in the window, by the handoff's reason.
- sla: each handoff in the window has two targets, first response and resolution. A target is
  missed when the SLA watcher recorded a miss for it (missed_by_cause: the watcher's cause;
  missed_by_target), met when it was settled (an agent replied; an agent resolved or returned
  the conversation) with no miss recorded, and pending otherwise.
- csat: the average and number of ratings given in the window.
- cost_usd: the cost of the model calls made in the window (audit model_call events), and that
  over conversations (None with no conversations).
Percentiles interpolate linearly between the nearest ranks (PostgreSQL's percentile_cont) and
are None without samples. Days are UTC days.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from server.desk.report_facts import Escalation, Handoff
from server.reporting.facts import Started

TARGETS = ("first_response", "resolution")
NO_REASON = "unspecified"


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0 <= q <= 1) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    value = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return round(value, 3)


def durations(pairs: Iterable[tuple[datetime, datetime | None]]) -> list[float]:
    """Seconds from each start to its end, for the pairs that have an end."""
    return [(end - start).total_seconds() for start, end in pairs if end is not None]


def spread(seconds: Sequence[float]) -> dict[str, Any]:
    """{"p50", "p95", "count"} of a list of durations."""
    return {"p50": percentile(seconds, 0.5), "p95": percentile(seconds, 0.95),
            "count": len(seconds)}


def ratio(part: int, whole: int) -> float | None:
    """part / whole to four places; None when there is no whole."""
    return round(part / whole, 4) if whole else None


def contained(conversation: Started, escalation: Escalation | None) -> bool:
    """The bot answered it and no human took part after its start."""
    return conversation.first_bot_reply_at is not None and (
        escalation is None or escalation.human_at is None)


def sla(handoffs: Sequence[Handoff]) -> dict[str, Any]:
    """Met, missed (by cause and by target) and pending SLA targets of the handoffs."""
    met = pending = 0
    by_cause: Counter[str] = Counter()
    by_target: Counter[str] = Counter()
    for handoff in handoffs:
        settled = {"first_response": handoff.first_agent_reply_at is not None,
                   "resolution": handoff.handed_back_at is not None}
        missed = {target for target, _ in handoff.misses}
        for target, cause in handoff.misses:
            by_cause[cause] += 1
            by_target[target] += 1
        for target in TARGETS:
            if target not in missed:
                met += settled[target]
                pending += not settled[target]
    return {"met": met, "missed": sum(by_target.values()), "pending": pending,
            "missed_by_cause": dict(sorted(by_cause.items())),
            "missed_by_target": dict(sorted(by_target.items()))}


def money(value: Decimal) -> float:
    """US dollars to six places (the audit trail keeps five)."""
    return float(round(value, 6))


def days(since: datetime, until: datetime) -> list[date]:
    """The UTC days the window touches, in order."""
    first, last = since.date(), (until - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def figures(*, since: datetime, until: datetime, conversations: Sequence[Started],
            escalations: Mapping[str, Escalation], handoffs: Sequence[Handoff],
            ratings: Sequence[tuple[datetime, int]], cost: Mapping[date, Decimal]) -> dict[str, Any]:
    """The report (module docstring), with `daily`: the per-day series the charts draw."""
    total_cost = sum(cost.values(), Decimal(0))
    n = len(conversations)
    scores = [score for _, score in ratings]
    return {
        "since": since.isoformat(), "until": until.isoformat(),
        "conversations": n,
        "first_response_seconds": {
            "bot": spread(durations((c.started_at, c.first_bot_reply_at) for c in conversations)),
            "human": spread(durations((h.at, h.first_agent_reply_at) for h in handoffs))},
        "resolution_seconds": spread(durations(
            (c.started_at, _resolved(escalations.get(c.key))) for c in conversations)),
        "containment_rate": ratio(sum(contained(c, escalations.get(c.key))
                                      for c in conversations), n),
        "handoffs": len(handoffs),
        "handoffs_by_reason": dict(sorted(Counter(h.reason or NO_REASON for h in handoffs).items())),
        "sla": sla(handoffs),
        "csat": {"average": round(sum(scores) / len(scores), 2) if scores else None,
                 "count": len(scores)},
        "cost_usd": {"total": money(total_cost),
                     "per_conversation": money(total_cost / n) if n else None},
        "daily": daily(since, until, conversations, escalations, handoffs, ratings, cost),
    }


def _resolved(escalation: Escalation | None) -> datetime | None:
    return escalation.resolved_at if escalation else None


def daily(since: datetime, until: datetime, conversations: Sequence[Started],
          escalations: Mapping[str, Escalation], handoffs: Sequence[Handoff],
          ratings: Sequence[tuple[datetime, int]], cost: Mapping[date, Decimal]) -> list[dict[str, Any]]:
    """Per UTC day: conversations started, their containment and bot first-response p50,
    handoffs made, the CSAT average of ratings given, and model cost."""
    started: dict[date, list[Started]] = defaultdict(list)
    for conversation in conversations:
        started[conversation.started_at.date()].append(conversation)
    handed = Counter(h.at.date() for h in handoffs)
    rated: dict[date, list[int]] = defaultdict(list)
    for at, score in ratings:
        rated[at.date()].append(score)
    series = []
    for day in days(since, until):
        todays = started.get(day, [])
        scores = rated.get(day, [])
        series.append({
            "date": day.isoformat(), "conversations": len(todays),
            "containment_rate": ratio(sum(contained(c, escalations.get(c.key)) for c in todays),
                                      len(todays)),
            "first_response_p50": percentile(durations(
                (c.started_at, c.first_bot_reply_at) for c in todays), 0.5),
            "handoffs": handed.get(day, 0),
            "csat_average": round(sum(scores) / len(scores), 2) if scores else None,
            "cost_usd": money(cost.get(day, Decimal(0)))})
    return series
