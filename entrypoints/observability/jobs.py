"""Metrics, spans and log context for background jobs, around any ``JobQueue`` adapter.

- ``TracedJobQueue`` wraps a queue. ``enqueue`` stores the W3C trace context (``traceparent``,
  ``tracestate``) of the current span and the request id in the job's payload under ``_trace``;
  every registered handler is wrapped so that a run is a ``job <kind>`` span (CONSUMER) whose
  parent is that context, with the kind, id, attempt and outcome as attributes, and the log
  lines of the run carry ``job_id``, ``job_kind``, the enqueuing request's ``request_id`` and
  (through ``entrypoints.logging.add_trace_context``) its trace id. With no tracer provider
  configured the span is a non-recording one that still carries the request's trace id, so
  the worker's log lines name the trace even when nothing is exported.
- ``JobMetrics`` is a ``JobObserver`` (told by the adapter after each stored change) that
  counts attempts by kind and outcome and times them; it then passes the job on to the next
  observer (``application.jobs.JobEvents``). The adapter's view is the authoritative one:
  an attempt that timed out or raised is ``retried`` when another attempt follows and
  ``dead_lettered`` when it was the last (or the handler raised ``JobFailed``).
- ``report_dead_letters`` keeps ``trellis_jobs_dead_letters`` at the dead-letter list's size.
- ``serve_metrics`` starts prometheus_client's own HTTP server for processes with no HTTP
  app (``trellis worker``, ``trellis scheduler``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import SpanKind, Status, StatusCode

from domain.jobs import Job, JobFailed, JobState
from domain.paging import Page, PageRequest
from domain.ports import JobHandler, JobObserver, JobProgress, JobQueue
from entrypoints.observability.metrics import JOB_DURATION, JOBS, JOBS_DEAD_LETTERS
from entrypoints.observability.tracing import build_tracer_provider, instrument_outbound, uninstrument_outbound
from entrypoints.settings import Settings

TRACE_KEY = "_trace"  # in a job's payload: the enqueuing request's trace context and request id
REQUEST_ID = "request_id"
TRACER_NAME = "trellis.jobs"
DEFAULT_SERVICE_NAME = "trellis-api"  # OTEL_SERVICE_NAME unset: name the process kind instead

log = structlog.get_logger("trellis.jobs")


def trace_carrier() -> dict[str, str]:
    """The current trace context (W3C ``traceparent``/``tracestate``) and request id, as strings."""
    carrier: dict[str, str] = {}
    inject(carrier)
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if isinstance(request_id, str):
        carrier[REQUEST_ID] = request_id
    return carrier


def _carrier_of(job: Job) -> dict[str, str]:
    raw = job.payload.get(TRACE_KEY)
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): v for k, v in raw.items() if isinstance(v, str)}


class TracedJobQueue:
    """A ``JobQueue`` that carries trace context into jobs and runs each handler in a span."""

    def __init__(self, inner: JobQueue, tracer_provider: trace.TracerProvider | None = None) -> None:
        self.inner = inner
        #: None: the global provider at the time of each run (set by the API or the worker when
        #: OTEL_EXPORTER_OTLP_ENDPOINT is configured; a no-op otherwise). Tests set their own.
        self.tracer_provider = tracer_provider

    def _tracer(self) -> trace.Tracer:
        return trace.get_tracer(TRACER_NAME, tracer_provider=self.tracer_provider)

    def register(self, kind: str, handler: JobHandler) -> None:
        self.inner.register(kind, self._traced(handler))

    def _traced(self, handler: JobHandler) -> JobHandler:
        async def run(job: Job, progress: JobProgress) -> dict[str, Any]:
            carrier = _carrier_of(job)
            context: dict[str, Any] = {"job_id": job.id, "job_kind": job.kind}
            if REQUEST_ID in carrier:
                context[REQUEST_ID] = carrier[REQUEST_ID]
            with (
                structlog.contextvars.bound_contextvars(**context),
                self._tracer().start_as_current_span(
                    f"job {job.kind}",
                    context=extract(carrier),  # an empty carrier: a new trace (the job's own)
                    kind=SpanKind.CONSUMER,
                    attributes={
                        "trellis.job.kind": job.kind,
                        "trellis.job.id": job.id,
                        "trellis.job.attempt": job.attempts,
                        "trellis.job.max_attempts": job.max_attempts,
                    },
                    record_exception=True,
                    set_status_on_exception=False,
                ) as span,
            ):
                try:
                    result = await handler(job, progress)
                except JobFailed:
                    span.set_attribute("trellis.job.outcome", "dead_lettered")
                    span.set_status(Status(StatusCode.ERROR, "job failed"))
                    raise
                except asyncio.CancelledError:  # timed out (then retried) or the worker stops (re-queued)
                    span.set_attribute("trellis.job.outcome", "cancelled")
                    raise
                except Exception:
                    last = job.attempts >= job.max_attempts
                    span.set_attribute("trellis.job.outcome", "dead_lettered" if last else "retried")
                    span.set_status(Status(StatusCode.ERROR, "attempt failed"))
                    raise
                span.set_attribute("trellis.job.outcome", "succeeded")
                return result

        return run

    async def enqueue(self, kind: str, payload: Mapping[str, Any], owner_id: str | None) -> Job:
        carrier = trace_carrier()
        if carrier:
            payload = {**payload, TRACE_KEY: carrier}
        return await self.inner.enqueue(kind, payload, owner_id)

    async def get(self, job_id: str) -> Job | None:
        return await self.inner.get(job_id)

    async def list(self, state: JobState | None, page: PageRequest) -> Page[Job]:
        return await self.inner.list(state, page)

    async def retry(self, job_id: str) -> Job:
        return await self.inner.retry(job_id)

    async def start_worker(self, concurrency: int = 2) -> None:
        await self.inner.start_worker(concurrency)

    async def stop_worker(self, grace_seconds: float = 10.0) -> None:
        await self.inner.stop_worker(grace_seconds)


class JobMetrics:
    """A ``JobObserver``: attempts by kind and outcome, and their durations; then the next observer."""

    def __init__(self, then: JobObserver | None = None) -> None:
        self._then = then

    async def __call__(self, job: Job) -> None:
        outcome = {
            JobState.SUCCEEDED: "succeeded",
            JobState.FAILED: "dead_lettered",
            JobState.QUEUED: "retried",  # told only after a failed attempt that another will follow
        }.get(job.state)
        if outcome is not None:
            try:
                JOBS.labels(job.kind, outcome).inc()
                if job.started_at is not None:
                    ended = job.finished_at or job.updated_at
                    JOB_DURATION.labels(job.kind, outcome).observe(max((ended - job.started_at).total_seconds(), 0.0))
            except Exception:  # an observer must not raise
                log.warning("job_metrics_failed", job_id=job.id, exc_info=True)
        if self._then is not None:
            await self._then(job)


DEAD_LETTERS_EVERY_SECONDS = 5.0


async def report_dead_letters(queue: JobQueue, every: float = DEAD_LETTERS_EVERY_SECONDS) -> None:
    """Keep ``trellis_jobs_dead_letters`` at the size of the queue's dead-letter list (the jobs
    in state ``failed``), looked up every ``every`` seconds until cancelled. Run by the worker:
    the list is shared, so every worker reports the same number."""
    while True:
        try:
            page = await asyncio.wait_for(queue.list(JobState.FAILED, PageRequest(page=1, size=1)), every)
            JOBS_DEAD_LETTERS.set(page.total)
        except Exception as error:  # the store is down: keep the last value, try again
            log.warning("dead_letters_unknown", error=repr(error))
        await asyncio.sleep(every)


def serve_metrics(host: str, port: int) -> Any:
    """prometheus_client's HTTP server (a daemon thread) on ``host:port``; ``.shutdown()`` stops it."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host)
    return server


def start_process_observability(settings: Settings, service: str) -> Callable[[], None]:
    """For ``trellis worker`` and ``trellis scheduler``: the metrics endpoint when
    ``WORKER_METRICS_PORT`` is set, and OTLP tracing (the global provider, outbound calls
    instrumented) when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is. Call before ``bootstrap`` (the
    PyMongo listener must exist before its client). Returns what stops both."""
    if settings.otel_service_name == DEFAULT_SERVICE_NAME:
        settings = dataclasses.replace(settings, otel_service_name=service)
    provider = build_tracer_provider(settings)
    if provider is not None:
        trace.set_tracer_provider(provider)
        instrument_outbound(provider)
    server = None
    if settings.worker_metrics_port is not None:
        server = serve_metrics(settings.worker_metrics_host, settings.worker_metrics_port)
        log.info("metrics_serving", host=settings.worker_metrics_host, port=settings.worker_metrics_port)

    def stop() -> None:
        if server is not None:
            server.shutdown()
            server.server_close()
        if provider is not None:
            provider.force_flush(timeout_millis=5000)
            uninstrument_outbound()
            provider.shutdown()

    return stop
