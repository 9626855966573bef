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
