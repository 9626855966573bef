"""OpenTelemetry tracing: an OTLP/HTTP exporter when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, else nothing.

With no endpoint no tracer provider is built and the request middleware skips spans entirely
(no per-request cost). With one, spans are batched and sent to ``<endpoint>/v1/traces``;
outbound calls made outside any request or job (background polling) are not traced.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from entrypoints.settings import Settings

SERVICE_VERSION = "0.1.0"


class NoParentlessClientSpans(Sampler):
    """Record every root span but an outbound call's that has no parent.

    A request, a job run or a scheduled run starts a trace, and the database, Redis and HTTP
    calls it makes are its children. A client span with no parent is background polling (SAQ
    dequeuing, the analytics consumer reading its stream, every second of every process): a
    one-span trace per command that buries the traces worth reading.
    """

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "NoParentlessClientSpans"


def build_tracer_provider(settings: Settings) -> TracerProvider | None:
    """A provider exporting to the configured OTLP endpoint, or None when tracing is off."""
    endpoint = settings.otel_exporter_otlp_endpoint
    if not endpoint:
        return None
    resource = Resource.create(
        {
            "service.name": settings.otel_service_name,
            "service.version": SERVICE_VERSION,
            "deployment.environment.name": settings.app_env,
        }
    )
    provider = TracerProvider(resource=resource, sampler=ParentBased(root=NoParentlessClientSpans()))
    exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


_outbound_on = False


def instrument_outbound(provider: TracerProvider) -> None:
    """Client spans for outbound calls, children of whatever span is current (the request's).

    httpx (``AsyncHTTPTransport``), redis-py (``redis.asyncio`` commands and pipelines) and
    PyMongo (command monitoring: a listener registered globally, so it must run before the
    ``AsyncMongoClient`` is created) through the OpenTelemetry instrumentation packages; Azure
    SDK calls through azure-core's own OpenTelemetry tracing, which uses the global provider.
    Called only when tracing is on (the packages are not even imported otherwise); idempotent.
    """
    global _outbound_on
    if _outbound_on:
        return
    from azure.core.settings import settings as azure_settings
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    # PyMongo's listener keeps the provider it was first given; later calls only re-enable it.
    PymongoInstrumentor().instrument(tracer_provider=provider)
    azure_settings.tracing_enabled = True
    _outbound_on = True


def uninstrument_outbound() -> None:
    """Undo ``instrument_outbound`` (the PyMongo listener stays registered but is disabled)."""
    global _outbound_on
    if not _outbound_on:
        return
    from azure.core.settings import settings as azure_settings
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    HTTPXClientInstrumentor().uninstrument()
    RedisInstrumentor().uninstrument()
    PymongoInstrumentor().uninstrument()
    azure_settings.tracing_enabled = False
    _outbound_on = False
