"""OpenTelemetry tracing: an OTLP/HTTP exporter when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, else nothing.

With no endpoint no tracer provider is built and the request middleware skips spans entirely
(no per-request cost). With one, spans are batched and sent to ``<endpoint>/v1/traces``.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from entrypoints.settings import Settings

SERVICE_VERSION = "0.1.0"


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
    provider = TracerProvider(resource=resource)
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
