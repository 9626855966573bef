"""Outbound spans with tracing on: Redis, httpx, MongoDB and Azure SDK calls made while a request
runs are client spans in the request's trace, children of its server span; with tracing off
nothing is instrumented.

``instrument_outbound`` runs before the app's clients are built (PyMongo's listener must be
registered before the ``AsyncMongoClient`` exists) and is undone after each test. PyMongo's
instrumentation keeps the first provider it was given, so every test here shares one; azure-core
traces through the global provider, which the Azure test sets to that same one.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
import pytest
from litestar.testing import AsyncTestClient
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from entrypoints.bootstrap import bootstrap
from entrypoints.http.app import create_app
from entrypoints.observability.middleware import use_tracer_provider
from entrypoints.observability.tracing import instrument_outbound, uninstrument_outbound
from tests.integration.cache.conftest import served
from tests.integration.http.helpers import Api, assert_success, make_settings, running_api
from tests.integration.mongo.conftest import drop_database
from tests.integration.observability.conftest import Captured
from tests.integration.providers.conftest import _close_provider_clients
from tests.support.fake_providers import AZURE_KEY, OWM_KEY, fake_providers
from tests.support.mongo import mongo_url
from tests.support.redis import redis_url

pytestmark = pytest.mark.real_service

_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))
LIMITS = {"RATE_LIMIT_DEFAULT": "100000/minute", "RATE_LIMIT_AUTH": "100000/minute"}


@pytest.fixture
def exporter(captured: Captured) -> Iterator[InMemorySpanExporter]:
    instrument_outbound(_PROVIDER)
    _EXPORTER.clear()
    try:
        yield _EXPORTER
    finally:
        uninstrument_outbound()
        _EXPORTER.clear()


def server_span(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    (span,) = [s for s in spans if s.kind is SpanKind.SERVER and s.name == name]
    return span


def spans_of(spans: Sequence[ReadableSpan], library: str) -> list[ReadableSpan]:
    return [
        s
        for s in spans
        if s.instrumentation_scope is not None
        and s.instrumentation_scope.name == f"opentelemetry.instrumentation.{library}"
    ]


def assert_children_of(children: list[ReadableSpan], parent: ReadableSpan) -> None:
    assert children
    for child in children:
        assert child.kind is SpanKind.CLIENT
        assert child.context.trace_id == parent.context.trace_id
        assert child.parent is not None
        assert child.parent.span_id == parent.context.span_id


async def test_a_read_through_redis_makes_redis_spans_under_the_request_span(
    exporter: InMemorySpanExporter, captured: Captured
) -> None:
    async with served(REDIS_URL=redis_url(), **LIMITS) as api:
        use_tracer_provider(api.client.app, _PROVIDER)
        owner = await api.member()
        project = await api.create_project(owner, visibility="public")
        exporter.clear()
        assert_success(await api.client.get(f"/api/v1/projects/{project['id']}", headers=owner.headers))
        spans = exporter.get_finished_spans()

    request = server_span(spans, "GET /api/v1/projects/{project_id}")
    redis_spans = [s for s in spans_of(spans, "redis") if s.parent is not None]
    assert_children_of(redis_spans, request)  # background work outside a request makes root spans
    assert all(span.attributes and span.attributes.get("db.system") == "redis" for span in redis_spans)
    (access,) = [line for line in captured.events("request") if line["route"] == "/api/v1/projects/{project_id}"]
    assert access["trace_id"] == format(request.context.trace_id, "032x")


async def test_a_weather_request_makes_an_httpx_client_span_under_the_request_span(
    exporter: InMemorySpanExporter,
) -> None:
    async with (
        fake_providers() as fake,
        running_api(
            PROVIDER_RETRY_BACKOFF_MS="1", OPENWEATHER_API_KEY=OWM_KEY, OPENWEATHER_BASE_URL=fake.base_url
        ) as api,
    ):
        try:
            use_tracer_provider(api.client.app, _PROVIDER)
            member = await api.member()
            exporter.clear()
            params = {"place": "Oslo"}
            assert_success(await api.client.get("/api/v1/weather", params=params, headers=member.headers))
        finally:
            _close_provider_clients(api)

    request = server_span(exporter.get_finished_spans(), "GET /api/v1/weather")
    http_spans = spans_of(exporter.get_finished_spans(), "httpx")
    assert_children_of(http_spans, request)
    assert len(http_spans) == len(fake.requests)  # one client span per call, the test client's none


@asynccontextmanager
async def traced_api_on_this_loop(**settings: str) -> AsyncIterator[Api]:
    """The app on MongoDB, served on the test's loop (PyMongo's async client is bound to it)."""
    container = await bootstrap(make_settings(**settings))
    app = create_app(container.settings, container=container)
    use_tracer_provider(app, _PROVIDER)
    try:
        async with app.lifespan():
            transport = httpx.ASGITransport(app=cast(Any, app), client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                yield Api(client=cast(AsyncTestClient[Any], client), container=container)
    finally:
        await container.close()


async def test_mongodb_commands_in_a_request_are_spans_under_the_request_span(
    exporter: InMemorySpanExporter,
) -> None:
    database = f"trellis_trace_{uuid.uuid4().hex[:8]}"
    try:
        async with traced_api_on_this_loop(MONGODB_URL=mongo_url(), MONGODB_DATABASE=database) as api:
            exporter.clear()
            assert (await api.signup()).status_code == 201
            spans = exporter.get_finished_spans()  # before closing and dropping add their own
    finally:
        await drop_database(database)

    request = server_span(spans, "POST /api/v1/auth/signup")
    mongo_spans = spans_of(spans, "pymongo")
    assert_children_of(mongo_spans, request)
    assert all(span.attributes and span.attributes.get("db.system") == "mongodb" for span in mongo_spans)


async def test_after_uninstrumenting_outbound_calls_make_no_spans(exporter: InMemorySpanExporter) -> None:
    uninstrument_outbound()
    async with served(REDIS_URL=redis_url(), **LIMITS) as api:
        use_tracer_provider(api.client.app, _PROVIDER)
        assert (await api.client.get("/api/v1/projects/p-1")).status_code == 401
    assert [s.kind for s in exporter.get_finished_spans()] == [SpanKind.SERVER]


async def test_an_azure_sdk_call_in_a_request_is_a_client_span_under_the_request_span(
    exporter: InMemorySpanExporter,
) -> None:
    # azure-core traces through the *global* provider: make it this module's (once per process)
    trace.set_tracer_provider(_PROVIDER)
    if trace.get_tracer_provider() is not _PROVIDER:
        pytest.fail("another global tracer provider was set first in this process")
    async with (
        fake_providers() as fake,
        running_api(
            PROVIDER_RETRY_BACKOFF_MS="1", AZURE_LANGUAGE_ENDPOINT=fake.base_url, AZURE_LANGUAGE_KEY=AZURE_KEY
        ) as api,
    ):
        try:
            use_tracer_provider(api.client.app, _PROVIDER)
            member = await api.member()
            exporter.clear()
            text = {"text": "The survey went well and the field team was happy."}
            assert_success(await api.client.post("/api/v1/analysis/text", json=text, headers=member.headers))
            spans = exporter.get_finished_spans()
        finally:
            _close_provider_clients(api)

    request = server_span(spans, "POST /api/v1/analysis/text")
    azure = [s for s in spans if s.instrumentation_scope is not None and s.instrumentation_scope.name == "azure-core"]
    operations = [s for s in azure if s.kind is SpanKind.INTERNAL]  # TextAnalyticsClient.<method>
    assert {s.name for s in operations} >= {"TextAnalyticsClient.analyze_sentiment"}
    for operation in operations:
        assert operation.parent is not None
        assert operation.parent.span_id == request.context.span_id
    calls = [s for s in azure if s.kind is SpanKind.CLIENT]
    assert len(calls) == len(operations)
    for call in calls:  # the HTTP call of each operation, in the request's trace
        assert call.context.trace_id == request.context.trace_id
        assert call.parent is not None
        assert call.parent.span_id in {op.context.span_id for op in operations}


async def test_with_tracing_off_nothing_is_instrumented() -> None:
    async with served(REDIS_URL=redis_url(), **LIMITS) as api:
        assert (await api.client.get("/api/v1/projects/p-1")).status_code == 401
    for instrumentor in (HTTPXClientInstrumentor(), RedisInstrumentor(), PymongoInstrumentor()):
        assert not instrumentor.is_instrumented_by_opentelemetry
