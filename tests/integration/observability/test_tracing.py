"""Spans per request (in-memory exporter and a real OTLP/HTTP receiver), and trace ids in the log."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from entrypoints.observability.middleware import use_tracer_provider
from entrypoints.observability.tracing import build_tracer_provider
from tests.integration.http.helpers import Api, make_settings, running_api
from tests.integration.observability.conftest import Captured

PROJECT_ROUTE = "/api/v1/projects/{project_id}"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def traced_api(captured: Captured, exporter: InMemorySpanExporter) -> AsyncIterator[Api]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with running_api() as api:
        use_tracer_provider(api.client.app, provider)
        yield api
    provider.shutdown()


async def test_a_request_makes_a_server_span_named_by_route_with_its_status(
    traced_api: Api, exporter: InMemorySpanExporter, captured: Captured
) -> None:
    response = await traced_api.client.get("/api/v1/projects/p-123")
    assert response.status_code == 401

    (span,) = exporter.get_finished_spans()
    assert span.name == f"GET {PROJECT_ROUTE}"
    assert span.kind is SpanKind.SERVER
    assert span.attributes is not None
    assert span.attributes["http.route"] == PROJECT_ROUTE
    assert span.attributes["http.response.status_code"] == 401
    assert span.attributes["http.request.method"] == "GET"
    assert span.status.status_code is StatusCode.UNSET  # a 4xx is the client's error, not the server's

    (access,) = captured.events("request")
    assert access["trace_id"] == format(span.context.trace_id, "032x")
    assert access["span_id"] == format(span.context.span_id, "016x")


async def test_an_incoming_traceparent_continues_the_callers_trace(
    traced_api: Api, exporter: InMemorySpanExporter
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    await traced_api.client.get("/health/live", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    (span,) = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == "00f067aa0ba902b7"


async def test_a_500_marks_the_span_as_an_error(traced_api: Api, exporter: InMemorySpanExporter) -> None:
    from tests.integration.observability.test_logging import boom

    traced_api.client.app.register(boom)
    assert (await traced_api.client.get("/test/boom")).status_code == 500
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.name == "GET /test/boom"


async def test_without_an_endpoint_tracing_is_off_and_logs_carry_no_trace_id(captured: Captured) -> None:
    assert build_tracer_provider(make_settings()) is None
    async with running_api() as api:
        await api.client.get("/health/live")
    assert all("trace_id" not in line for line in captured.lines())


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, int]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        self.received.append((self.path, self.headers.get("content-type", ""), length))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[str]:
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_with_an_endpoint_spans_are_exported_over_otlp_http(otlp_receiver: str) -> None:
    settings = make_settings(OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver, OTEL_SERVICE_NAME="trellis-test")
    provider = build_tracer_provider(settings)
    assert provider is not None
    try:
        async with running_api() as api:
            use_tracer_provider(api.client.app, provider)
            await api.client.get("/health/live")
        assert provider.force_flush(timeout_millis=5000)
    finally:
        provider.shutdown()
    assert _Receiver.received, "no OTLP export arrived"
    path, content_type, length = _Receiver.received[0]
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert length > 0


def test_outbound_calls_outside_any_request_or_job_are_not_traced(otlp_receiver: str) -> None:
    """Background polling (SAQ dequeuing, the analytics consumer) would otherwise be a one-span
    trace per Redis command, every second, in every process."""
    from opentelemetry.sdk.trace.sampling import Decision
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

    provider = build_tracer_provider(make_settings(OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver))
    assert provider is not None
    try:
        sampler = provider.sampler
        parent = set_span_in_context(
            NonRecordingSpan(SpanContext(1, 2, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)))
        )
        assert sampler.should_sample(None, 7, "BLMOVE", SpanKind.CLIENT).decision is Decision.DROP
        assert sampler.should_sample(parent, 1, "GET", SpanKind.CLIENT).decision is Decision.RECORD_AND_SAMPLE
        for kind in (SpanKind.SERVER, SpanKind.CONSUMER, SpanKind.INTERNAL):
            assert sampler.should_sample(None, 7, "root", kind).decision is Decision.RECORD_AND_SAMPLE
    finally:
        provider.shutdown()
