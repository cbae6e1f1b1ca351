"""server/tracing.py: nothing without an OTLP endpoint; with one, spans go over OTLP/HTTP to it
(a collector served for real here) named by the service; traceparents carry a trace on."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import conversation_ids, tracing
from tests.http_stub import HttpStub

KEY = "447700900777"


class Collector(HttpStub):
    """An OTLP/HTTP trace collector: keeps each export request it is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.exports: list[ExportTraceServiceRequest] = []

        async def traces(request: Request) -> Response:
            self.exports.append(ExportTraceServiceRequest.FromString(await request.body()))
            return Response(b"", media_type="application/x-protobuf")

        self.app = Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])


@pytest.fixture(autouse=True)
def refs(monkeypatch):
    monkeypatch.setattr(conversation_ids, "_pads", conversation_ids.hmac_pads(b"t" * 32))
    for name in (*tracing.ENDPOINT_VARIABLES, "OTEL_SERVICE_NAME", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)


def test_without_an_endpoint_nothing_is_set_up_and_spans_are_no_ops():
    with tracing.open_tracing(tracing.SERVICE_API) as provider:
        assert provider is None
        with tracing.span("turn", [KEY]) as span:
            assert not span.is_recording()
            assert tracing.traceparent() is None


def test_with_an_endpoint_spans_are_exported_over_otlp_http(monkeypatch):
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        with tracing.open_tracing(tracing.SERVICE_WORKER) as provider:
            assert provider is not None
            with tracing.span("turn", [KEY], attributes={"switchboard.fence": 7}):
                pass
        # Leaving flushed the batch; the provider is no longer Switchboard's.
        assert not tracing.tracer().start_span("after").is_recording()
    [export] = collector.exports
    [resource_spans] = export.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "switchboard-worker"
    [span] = resource_spans.scope_spans[0].spans
    attributes = {a.key: a.value for a in span.attributes}
    assert span.name == "turn"
    assert attributes[tracing.CONVERSATION].string_value == conversation_ids.ref(KEY)
    assert attributes["switchboard.fence"].int_value == 7


def test_the_sdk_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    with tracing.open_tracing(tracing.SERVICE_API) as provider:
        assert provider is None


def test_a_traceparent_continues_its_trace_elsewhere(spans):
    with tracing.span("schedule", [KEY]) as schedule:
        parent = tracing.traceparent()
    assert parent is not None
    with tracing.span("turn", [KEY], context=tracing.context_of(parent)) as turn:
        pass
    assert turn.get_span_context().trace_id == schedule.get_span_context().trace_id
    [_, finished] = spans.get_finished_spans()
    assert finished.parent.span_id == schedule.get_span_context().span_id
    assert tracing.context_of(None) is None and tracing.context_of("garbage") is None


def test_several_conversations_are_listed_by_ref():
    attributes = tracing.conversation_attributes(["447700900001", "447700900002", "447700900001"])
    refs = attributes[tracing.CONVERSATION]
    assert isinstance(refs, list) and len(refs) == 2
    assert all(r.startswith("c_") for r in refs)
    assert tracing.conversation_attributes([]) == {}
    assert trace.get_current_span().is_recording() is False


def test_a_failed_span_keeps_the_errors_class_not_its_message(spans):
    with pytest.raises(ValueError), tracing.span("store", [KEY]):
        raise ValueError(f"duplicate key (phone)=({KEY})")
    [span] = spans.get_finished_spans()
    assert span.status.description == "ValueError"
    assert not span.events  # no exception event with the message or traceback
