"""OpenTelemetry tracing of a message's path: webhook, store, schedule, turn, the graph's nodes,
model and tool calls (server/graph_observer.py), send.

On only when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: then
`open_tracing`, entered by the composition root, installs a TracerProvider that exports over
OTLP/HTTP, configured by the standard OTEL_* variables (headers, timeout, OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES). Otherwise spans are OpenTelemetry's no-ops and cost next to nothing.

Every span names its conversation by the opaque ref (`CONVERSATION`), never the number; no
attribute holds message text, and a failed span keeps the error's class, not its message. One message's path crosses processes (API, then worker, then the
outbox sender, each perhaps elsewhere), so it is joined into one trace through Redis: the
`schedule` span leaves its W3C traceparent under the conversation (`remember`), the turn that
takes the conversation continues that trace (`recall`), and the turn leaves its own for the
send of its reply. Redis holds only what can be lost: a lost traceparent starts a new trace,
which the conversation attribute still ties to the rest.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Literal

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from server.availability import OUTAGES
from server.conversation_ids import ref

SERVICE_API, SERVICE_WORKER = "switchboard-api", "switchboard-worker"
CONVERSATION = "switchboard.conversation"
"""The span attribute that names the conversation: its opaque ref (server/conversation_ids.py)."""
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
TRACE_KEY = "switchboard:trace:"
"""Redis key prefix of a conversation's pending traceparent (`remember`)."""
TRACE_TTL_S = 24 * 3600
Leg = Literal["due", "reply"]
"""Which hand-over a traceparent is for: webhook -> turn ("due"), turn -> send ("reply")."""

_provider: TracerProvider | None = None
_tracer: Tracer | None = None
_propagator = TraceContextTextMapPropagator()


def enabled_by_environment() -> bool:
    """An OTLP endpoint is configured and the SDK is not disabled."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def install(provider: TracerProvider | None) -> TracerProvider | None:
    """Make `provider` the one Switchboard's spans go to (`open_tracing`; tests install one
    with an in-memory exporter); returns the one it replaces. None: tracing is off."""
    global _provider, _tracer
    previous, _provider = _provider, provider
    _tracer = provider.get_tracer("switchboard") if provider is not None else None
    return previous


def is_on() -> bool:
    """Whether spans are being recorded (a provider is installed)."""
    return _tracer is not None


def tracer() -> Tracer:
    """Switchboard's tracer: the installed provider's, else OpenTelemetry's no-op one."""
    return _tracer or trace.NoOpTracer()


@contextmanager
def open_tracing(service_name: str, exporter: SpanExporter | None = None
                 ) -> Iterator[TracerProvider | None]:
    """Export spans over OTLP/HTTP while open, when the environment asks for it (or to
    `exporter`); else leave things as they are. Flushes and shuts down on exit."""
    if exporter is None:
        if not enabled_by_environment():
            yield None
            return
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        exporter = OTLPSpanExporter()  # endpoint, headers, timeout: the OTEL_* variables
    # OTEL_SERVICE_NAME wins over ours; Resource.create reads it and OTEL_RESOURCE_ATTRIBUTES.
    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
    provider = TracerProvider(resource=Resource.create(named))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    previous = install(provider)
    try:
        yield provider
    finally:
        install(previous)
        provider.shutdown()


@contextmanager
def span(name: str, keys: Iterable[str] = (), *, context: Context | None = None,
         links: list[trace.Link] | None = None, kind: trace.SpanKind = trace.SpanKind.INTERNAL,
         attributes: Mapping[str, AttributeValue] | None = None) -> Iterator[trace.Span]:
    """A current span about these conversations (`CONVERSATION`); its attributes, refs
    included, are worked out only while tracing is on."""
    if _tracer is None:  # tracing is off: no span, no context switch (the webhook's hot path)
        yield trace.INVALID_SPAN
        return
    # Not OpenTelemetry's own exception recording: an error's message or traceback may quote
    # a customer (a database error echoes values); the span keeps the error's class only.
    with _tracer.start_as_current_span(name, context=context, links=links, kind=kind,
                                       record_exception=False,
                                       set_status_on_exception=False) as current:
        if current.is_recording():
            current.set_attributes({**conversation_attributes(keys), **(attributes or {})})
        try:
            yield current
        except BaseException as error:
            current.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise


def conversation_attributes(keys: Iterable[str]) -> dict[str, str | list[str]]:
    """The conversation attribute for spans about these conversations: one ref, or the sorted
    refs of several (a group commit of many webhooks)."""
    refs = sorted({ref(key) for key in keys})
    if not refs:
        return {}
    return {CONVERSATION: refs[0] if len(refs) == 1 else refs}


def traceparent() -> str | None:
    """The current span's W3C traceparent, if it is recorded (None while tracing is off)."""
    if not trace.get_current_span().is_recording():
        return None
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def context_of(parent: str | None) -> Context | None:
    """The span context a traceparent names, to continue its trace; None without one."""
    if not parent:
        return None
    context = _propagator.extract({"traceparent": parent})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


async def remember(redis, leg: Leg, keys: Iterable[str]) -> None:
    """Leave the current span's traceparent for the next leg of these conversations' path."""
    parent = traceparent()
    keys = list(keys)
    if parent is None or not keys or redis is None:
        return
    with contextlib.suppress(*OUTAGES):  # the trace then breaks here; the message goes on
        async with redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(f"{TRACE_KEY}{leg}:{key}", parent, ex=TRACE_TTL_S)
            await pipe.execute()


async def recall(redis, leg: Leg, key: str) -> Context | None:
    """The trace a conversation's previous leg left (`remember`), while tracing is on."""
    if redis is None or _provider is None:
        return None
    with contextlib.suppress(*OUTAGES):
        return context_of(await redis.get(f"{TRACE_KEY}{leg}:{key}"))
    return None
