"""Jobs carry the trace of the request that queued them: a job run is a span whose parent is the
request's span (W3C ``traceparent`` in the job), with kind, id, attempt and outcome; the run's
log lines carry that trace id and the request id; the job counters move. In-process, on the
in-memory queue, with an in-memory span exporter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import REGISTRY

from adapters.memory.jobs import MemoryJobQueue
from domain.jobs import Job, JobState
from domain.ports import JobProgress
from entrypoints.observability.jobs import TRACE_KEY, JobMetrics, TracedJobQueue
from entrypoints.observability.middleware import use_tracer_provider
from tests.integration.http.helpers import Api, running_api
from tests.integration.observability.conftest import Captured

log = structlog.get_logger("tests.jobs")


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@pytest.fixture
async def traced_api(captured: Captured, provider: TracerProvider) -> AsyncIterator[Api]:
    async with running_api() as api:
        use_tracer_provider(api.client.app, provider)
        jobs = api.container.jobs
        assert jobs is not None
        assert isinstance(jobs.queue, TracedJobQueue)
        jobs.queue.tracer_provider = provider
        yield api
    provider.shutdown()


def count(outcome: str, kind: str) -> float:
    return REGISTRY.get_sample_value("trellis_jobs_total", {"kind": kind, "outcome": outcome}) or 0.0


async def wait_for_end(queue: Any, job_id: str, within: float = 10.0) -> Job:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        job = await queue.get(job_id)
        if job is not None and job.state in (JobState.SUCCEEDED, JobState.FAILED):
            return job  # type: ignore[no-any-return]
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} did not end")


async def test_an_import_job_span_is_a_child_of_the_request_that_queued_it(
    traced_api: Api, exporter: InMemorySpanExporter, captured: Captured
) -> None:
    owner = await traced_api.member()
    project = await traced_api.create_project(owner, title="Traced")
    before = count("succeeded", "tasks.import")
    exporter.clear()
    response = await traced_api.client.post(
        f"/api/v1/projects/{project['id']}/import",
        files={"file": ("tasks.csv", b"title\nOne\n", "text/csv")},
        headers=owner.headers,
    )
    assert response.status_code == 202, response.text
    jobs = traced_api.container.jobs
    assert jobs is not None
    job = await wait_for_end(jobs.queue, response.json()["data"]["id"])
    assert job.state is JobState.SUCCEEDED, job.errors

    spans = exporter.get_finished_spans()
    (request,) = [s for s in spans if s.kind is SpanKind.SERVER and s.name.startswith("POST")]
    (run,) = [s for s in spans if s.name == f"job {job.kind}"]
    assert run.kind is SpanKind.CONSUMER
    assert run.context.trace_id == request.context.trace_id
    assert run.parent is not None
    assert run.parent.span_id == request.context.span_id
    assert run.attributes is not None
    assert dict(run.attributes) == {
        "trellis.job.kind": "tasks.import",
        "trellis.job.id": job.id,
        "trellis.job.attempt": 1,
        "trellis.job.max_attempts": job.max_attempts,
        "trellis.job.outcome": "succeeded",
    }
    assert count("succeeded", "tasks.import") == before + 1
    # the trace context travels in the job, not in what clients read of it
    assert TRACE_KEY in job.payload
    shown = (await traced_api.client.get(f"/api/v1/jobs/{job.id}", headers=owner.headers)).json()["data"]
    assert TRACE_KEY not in str(shown)


async def test_a_failing_attempt_is_retried_then_dead_lettered_and_the_log_names_the_trace(
    captured: Captured, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    kind = "test.flaky"
    inner = MemoryJobQueue(max_attempts=2, backoff_seconds=0.01, timeout_seconds=5, observer=JobMetrics())
    queue = TracedJobQueue(inner, tracer_provider=provider)

    async def flaky(job: Job, progress: JobProgress) -> dict[str, Any]:
        log.info("flaky_attempt", attempt=job.attempts)
        raise RuntimeError("down")

    queue.register(kind, flaky)
    retried, dead = count("retried", kind), count("dead_lettered", kind)
    tracer = provider.get_tracer("tests")
    with (
        structlog.contextvars.bound_contextvars(request_id="req-42"),
        tracer.start_as_current_span("request") as parent,
    ):
        job = await queue.enqueue(kind, {"n": 1}, owner_id=None)
    await queue.start_worker(1)
    try:
        job = await wait_for_end(queue, job.id)
    finally:
        await queue.stop_worker(1)
    assert job.state is JobState.FAILED

    runs: list[ReadableSpan] = sorted(
        (s for s in exporter.get_finished_spans() if s.name == f"job {kind}"),
        key=lambda s: s.attributes["trellis.job.attempt"] if s.attributes else 0,
    )
    assert [(s.attributes or {}).get("trellis.job.outcome") for s in runs] == ["retried", "dead_lettered"]
    assert all(s.parent is not None and s.parent.span_id == parent.get_span_context().span_id for s in runs)
    assert all(s.status.status_code is StatusCode.ERROR for s in runs)
    assert (count("retried", kind), count("dead_lettered", kind)) == (retried + 1, dead + 1)

    lines = captured.events("flaky_attempt")
    assert len(lines) == 2
    trace_id = format(parent.get_span_context().trace_id, "032x")
    assert {(line["trace_id"], line["request_id"], line["job_id"]) for line in lines} == {(trace_id, "req-42", job.id)}


async def test_without_a_tracer_the_job_log_still_names_the_requests_trace(captured: Captured) -> None:
    """No provider (OTEL_EXPORTER_OTLP_ENDPOINT unset): the run's span records nothing, yet the
    context it runs in is the request's, so the worker's lines can be joined to the API's."""
    kind = "test.quiet"
    queue = TracedJobQueue(MemoryJobQueue(observer=JobMetrics()), tracer_provider=trace.NoOpTracerProvider())

    async def quiet(job: Job, progress: JobProgress) -> dict[str, Any]:
        log.info("quiet_run")
        return {}

    queue.register(kind, quiet)
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    job = await queue.enqueue(kind, {TRACE_KEY: {"traceparent": traceparent}}, owner_id=None)
    await queue.start_worker(1)
    try:
        assert (await wait_for_end(queue, job.id)).state is JobState.SUCCEEDED
    finally:
        await queue.stop_worker(1)
    (line,) = captured.events("quiet_run")
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["job_kind"] == kind
