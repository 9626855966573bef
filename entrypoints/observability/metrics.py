"""Every Prometheus metric the service exports, defined once (import from here, never redefine).

The names and labels are what ``deploy/prometheus/alerts.yml`` and the Grafana dashboard query:

| metric | type | labels |
|---|---|---|
| `trellis_http_requests_total` | counter | method, route, status |
| `trellis_http_request_duration_seconds` | histogram | method, route |
| `trellis_http_requests_in_flight` | gauge | — |
| `trellis_cache_events_total` | counter | result (`hit`, `miss`, `bypass`) |
| `trellis_cache_invalidation_failures_total` | counter | — |
| `trellis_rate_limited_total` | counter | — |
| `trellis_websocket_connections` | gauge | — |
| `trellis_jobs_dead_letters` | gauge | — |
| `trellis_jobs_total` | counter | kind, outcome (`succeeded`, `retried`, `dead_lettered`) |
| `trellis_job_duration_seconds` | histogram | kind, outcome |
| `trellis_scheduled_runs_total` | counter | job, outcome (`succeeded`, `failed`) |
| `trellis_scheduled_run_duration_seconds` | histogram | job |
| `trellis_digest_notifications_total` | counter | outcome (`sent`, `skipped`, `failed`) |

The job metrics move in the process that runs the jobs: ``trellis worker`` (its own endpoint,
``WORKER_METRICS_PORT``), or the API when the queue is in-process; the scheduled-run ones in
``trellis scheduler`` (or ``trellis worker --with-scheduler``).

``route`` is the route template (``/api/v1/projects/{project_id:str}``), never the raw path,
so the number of series stays bounded; a request no route matched is labelled ``unmatched``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)

UNMATCHED_ROUTE = "unmatched"
# Litestar appends "; charset=utf-8" to text/* media types itself
_MEDIA_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")


def _metric(kind: type[M], name: str, documentation: str, labels: tuple[str, ...] = (), **options: Any) -> M:
    """Every metric of the service is defined in this module, once (prometheus_client refuses a
    second registration of a name, so a feature imports its metric from here)."""
    return kind(name, documentation, labels, **options)


# Buckets around the 500 ms p95 objective: fine below it, coarse above.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = _metric(
    Counter,
    "trellis_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ("method", "route", "status"),
)
HTTP_REQUEST_DURATION = _metric(
    Histogram,
    "trellis_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by method and route template.",
    ("method", "route"),
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS_IN_FLIGHT = _metric(
    Gauge,
    "trellis_http_requests_in_flight",
    "HTTP requests being handled right now.",
)
CACHE_EVENTS = _metric(
    Counter,
    "trellis_cache_events_total",
    "Read-cache lookups by result: hit (served from the cache), miss (loaded and stored), "
    "bypass (the cache failed; loaded from the database).",
    ("result",),
)
CACHE_INVALIDATION_FAILURES = _metric(
    Counter,
    "trellis_cache_invalidation_failures_total",
    "Committed writes whose cache generations could not be bumped (stale reads possible until the TTL).",
)
RATE_LIMITED = _metric(
    Counter,
    "trellis_rate_limited_total",
    "Requests refused with 429 by the rate limiter.",
)
RATE_LIMIT_BYPASS = _metric(
    Counter,
    "trellis_rate_limit_bypass_total",
    "Requests let through unlimited because the rate-limit store was down.",
)
WEBSOCKET_CONNECTIONS = _metric(
    Gauge,
    "trellis_websocket_connections",
    "Websocket connections open right now.",
)
JOBS_DEAD_LETTERS = _metric(
    Gauge,
    "trellis_jobs_dead_letters",
    "Jobs that exhausted their retries and wait in the dead-letter list.",
)

JOBS = _metric(
    Counter,
    "trellis_jobs_total",
    "Job attempts ended, by kind and outcome: succeeded, retried (failed; another attempt follows), "
    "dead_lettered (failed for good; in the dead-letter list).",
    ("kind", "outcome"),
)
JOB_DURATION = _metric(
    Histogram,
    "trellis_job_duration_seconds",
    "Time from an attempt's start to its outcome, by kind and outcome.",
    ("kind", "outcome"),
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0),
)
SCHEDULED_RUNS = _metric(
    Counter,
    "trellis_scheduled_runs_total",
    "Scheduled job runs by job and outcome.",
    ("job", "outcome"),
)
SCHEDULED_RUN_DURATION = _metric(
    Histogram,
    "trellis_scheduled_run_duration_seconds",
    "Duration of scheduled job runs, by job.",
    ("job",),
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0),
)
DIGEST_NOTIFICATIONS = _metric(
    Counter,
    "trellis_digest_notifications_total",
    "Overdue-digest messages by outcome: sent, skipped (owner deactivated or gone, or no address "
    "for the channel), failed (delivery failed or timed out; the digest went on with the next owner).",
    ("outcome",),
)


@get(
    "/metrics",
    summary="Prometheus metrics",
    description="Request counts, latency histograms and in-flight requests per route template, in the "
    "Prometheus text exposition format.",
    include_in_schema=False,
    sync_to_thread=False,
)
def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    return Response(generate_latest(REGISTRY), media_type=_MEDIA_TYPE)
