"""Every Prometheus metric Switchboard exports, defined once (prometheus-client); docs/metrics.md
lists them with their meaning.

Labels are bounded by construction: channels, providers, outcomes and statuses are our own
words, and anything that comes from elsewhere (a handoff reason, an exception class, a
provider's error code) passes through `label`, which keeps a short identifier or says "other".
No label ever carries a phone number, a conversation, or text a person wrote.

Several processes (`switchboard serve --processes N`, `switchboard worker --processes N`): set
PROMETHEUS_MULTIPROC_DIR to an empty directory before they start. prometheus-client then keeps
each process's values in files there, and `exposition` merges them into one scrape
(MultiProcessCollector); gauges say how (`multiprocess_mode`). Without it, the process's own
default registry is served.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Seconds: a webhook's acknowledgement."""
_SLOW = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 60.0)
"""Seconds: model calls, turns, how late a due conversation is taken."""
_LABEL = re.compile(r"[a-z0-9_]{1,40}")

WEBHOOKS = Counter(
    "switchboard_webhooks_total", "Webhook deliveries by channel and how they were answered"
    " (accepted, duplicate, unauthorized, malformed, unavailable, error).", ["channel", "outcome"])
WEBHOOK_ACK = Histogram(
    "switchboard_webhook_ack_seconds", "Time from a webhook's arrival to its 2xx answer"
    " (stored and scheduled).", ["channel"], buckets=_FAST)
DUE_QUEUE_LAG = Histogram(
    "switchboard_due_queue_lag_seconds", "How long after its due time a worker took a"
    " conversation's turn.", buckets=_SLOW)
TURN_SECONDS = Histogram(
    "switchboard_turn_seconds", "Duration of one graph turn; brain=offline when the offline"
    " brain answered any of its model calls.", ["brain"], buckets=_SLOW)
MODEL_CALLS = Counter(
    "switchboard_model_calls_total", "Calls to a configured chat model (not the offline brain)"
    " by outcome (ok, error, timeout).", ["outcome"])
MODEL_CALL_SECONDS = Histogram(
    "switchboard_model_call_seconds", "Duration of calls to a configured chat model that"
    " ended by themselves (not those cancelled as timeouts).",
    buckets=_SLOW)
MODEL_FALLBACKS = Counter(
    "switchboard_model_fallbacks_total", "Model calls the offline brain answered instead, by"
    " reason (deadline, timeout, breaker_open, or the error's class).", ["reason"])
TOOL_CALLS = Counter(
    "switchboard_tool_calls_total", "Agent tool calls by tool and outcome (ok, error).",
    ["tool", "outcome"])
OUTBOX_BACKLOG = Gauge(
    "switchboard_outbox_backlog", "Outbox rows not yet settled (pending, sending, unconfirmed),"
    " as the outbox worker last counted them.", multiprocess_mode="mostrecent")
SENDS = Counter(
    "switchboard_sends_total", "Outbox send attempts by provider and the status they left the"
    " row in (sent, pending, unconfirmed, failed, dead, unknown, skipped).", ["provider", "status"])
SEND_FAILURES = Counter(
    "switchboard_send_failures_total", "Send attempts the provider refused or that failed, by"
    " provider and error code (the provider's code, else http_<status>, else the kind).",
    ["provider", "code"])
HANDOFFS = Counter(
    "switchboard_handoffs_total", "Turns that handed the conversation to a human, by reason.",
    ["reason"])
SLA_MISSES = Counter(
    "switchboard_sla_misses_total", "Missed SLAs recorded by the watcher (first_response,"
    " resolution).", ["kind"])
BREAKER_STATE = Gauge(
    "switchboard_breaker_state", "Each model's circuit breaker: 0 closed, 1 half-open, 2 open"
    " (the worst over processes).", ["model"], multiprocess_mode="livemax")
OPT_OUTS = Counter("switchboard_opt_outs_total", "Customers who opted out of messages.")
PRUNE_DELETED = Counter(
    "switchboard_prune_deleted_total", "Rows deleted by retention pruning, by data class.",
    ["data_class"])

BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def label(value: object, known: frozenset[str] | None = None) -> str:
    """A label value of bounded cardinality: `value` as a short lower-case identifier (one of
    `known`, when given), else "other". Text with spaces or punctuation (free text, a "+"
    number) never survives it; it is still meant only for values our code or a provider's
    error codes chose."""
    text = str(value).strip().lower() if value is not None else ""
    if not _LABEL.fullmatch(text) or (known is not None and text not in known):
        return "other"
    return text


def error_code(code: int | None, http_status: int | None, kind: str) -> str:
    """A send failure's code label: the provider's numeric code, else the HTTP status, else the
    error's kind (e.g. sendoutcomeunknown)."""
    if code is not None:
        return label(code)
    if http_status is not None:
        return f"http_{int(http_status)}"
    return label(kind)


def breaker_listener(model: str) -> Callable[[str, str], None]:
    """A listener for `model`'s circuit breaker (graph/breaker.py `CircuitBreaker.listen`)
    that keeps switchboard_breaker_state{model} at its state."""
    gauge = BREAKER_STATE.labels(model=label(model))

    def changed(_breaker: str, state: str) -> None:
        gauge.set(BREAKER_VALUES.get(state, 2))
    return changed


def process_ended(pid: int | None) -> None:
    """Forget a process that ended in the multi-process directory's live gauges (the breaker
    state of a worker that died must not stay "open"); its counters stay counted."""
    path = os.environ.get(MULTIPROC_ENV)
    if path and pid:
        multiprocess.mark_process_dead(pid, path)


def exposition(multiproc_dir: str | None = None) -> bytes:
    """The scrape: every process's values merged when PROMETHEUS_MULTIPROC_DIR (or
    `multiproc_dir`) is set, else this process's default registry."""
    path = multiproc_dir or os.environ.get(MULTIPROC_ENV)
    if not path:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()  # per scrape, as prometheus-client's docs prescribe
    multiprocess.MultiProcessCollector(registry, path=path)
    return generate_latest(registry)


def share_between(count: int) -> None:
    """Before starting `count` processes: give them one multi-process directory (a fresh
    temporary one unless PROMETHEUS_MULTIPROC_DIR is set), so a scrape sees all of them, not
    whichever answered. Children inherit it; set before any of them imports prometheus-client."""
    if count > 1 and not os.environ.get(MULTIPROC_ENV):
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="switchboard-metrics-")


def serve_for_workers(port: int | None, host: str) -> None:
    """Workers answer no HTTP: when METRICS__WORKER_PORT is set, this process serves the
    scrape of the worker processes it runs (merged in multi-process mode) on host:port, with
    prometheus-client's own server in a thread."""
    if not port:
        return
    path = os.environ.get(MULTIPROC_ENV)
    registry = REGISTRY
    if path:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)
    start_http_server(port, addr=host, registry=registry)
