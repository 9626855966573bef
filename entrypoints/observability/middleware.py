"""One pure ASGI middleware around the whole application: access log, metrics and a span per request.

It wraps Litestar's outermost handler (outside its exception handling and routing), so it sees
every request — unknown routes and 500s included — and the final status. Everything that can
be decided once (log bodies or not, tracing on or off) is decided in ``__init__``.

Per request it binds the request id into structlog's contextvars (every line logged while the
request runs carries it), times the request, counts it by method, route *template* and status,
and writes one access line: INFO for success, WARNING for 4xx, ERROR for 5xx (the stack trace is
logged by the 500 handler under the same request id). Health checks and scrapes log at DEBUG.
Request and response bodies and headers are logged only at DEBUG, decoded and redacted — a
body that is not JSON or a form is logged as its size and media type, never as raw text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import structlog
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider

from entrypoints.http.request import request_id
from entrypoints.logging import REDACTED, is_sensitive, redact_value
from entrypoints.observability.metrics import (
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS,
    HTTP_REQUESTS_IN_FLIGHT,
    UNMATCHED_ROUTE,
    metrics_endpoint,
)
from entrypoints.observability.tracing import build_tracer_provider, instrument_outbound, uninstrument_outbound
from entrypoints.settings import Settings

log = structlog.get_logger("trellis.access")

USER_ID_KEY = "trellis_user_id"
BODY_LOG_LIMIT = 4096
QUIET_ROUTES = frozenset({"/metrics", "/health/live", "/health/ready", "/health"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
_global_provider_set = False


def bind_user(scope: Scope, user_id: str) -> None:
    """Name the authenticated caller for the access line (call where the principal is resolved)."""
    scope.setdefault("state", {})[USER_ID_KEY] = user_id


def redact_query(raw: bytes) -> str:
    """The query string with the values of sensitive parameters masked."""
    if not raw:
        return ""
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    return urlencode(
        [(name, REDACTED if is_sensitive(name) else redact_value(value)) for name, value in pairs], safe="[]"
    )


def render_body(body: bytes, content_type: str, truncated: bool) -> Any:
    """A body fit for a DEBUG line: decoded JSON or form data, redacted; otherwise only its size."""
    if not body:
        return None
    if not truncated:
        if "json" in content_type:
            try:
                return redact_value(json.loads(body))
            except ValueError:
                pass
        elif content_type.startswith("application/x-www-form-urlencoded"):
            return redact_value({k: REDACTED if is_sensitive(k) else v for k, v in parse_qsl(body.decode("latin-1"))})
    return f"<{len(body)}{'+' if truncated else ''} bytes {content_type or 'unknown type'}>"


def _header(headers: list[tuple[bytes, bytes]] | Any, name: bytes) -> str:
    for key, value in headers:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class _Body:
    __slots__ = ("data", "truncated")

    def __init__(self) -> None:
        self.data = bytearray()
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        room = BODY_LOG_LIMIT - len(self.data)
        if len(chunk) > room:
            self.truncated = True
        self.data += chunk[: max(room, 0)]


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, *, log_bodies: bool, tracer_provider: TracerProvider | None) -> None:
        self.app = app
        self.log_bodies = log_bodies
        self.tracer = tracer_provider.get_tracer("trellis.http") if tracer_provider is not None else None
        # the labelled series, looked up once per (method, route, status): bounded, since routes
        # are templates and methods a fixed set
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"]
        path = scope["path"]  # the router rewrites scope["path"]; keep what the client asked for
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id(scope))
        status = 500
        request_body = response_body = None
        response_type = ""

        if self.log_bodies:
            request_body, response_body = _Body(), _Body()
            receive_next = receive

            async def receive_logged() -> Any:
                message = await receive_next()
                if message["type"] == "http.request":
                    request_body.add(message.get("body", b""))
                return message

            receive = receive_logged

        async def send_observed(message: Message) -> None:
            nonlocal status, response_type
            if message["type"] == "http.response.start":
                status = message["status"]
                if response_body is not None:
                    response_type = _header(message.get("headers", ()), b"content-type")
            elif message["type"] == "http.response.body" and response_body is not None:
                response_body.add(message.get("body", b""))
            await send(message)

        HTTP_REQUESTS_IN_FLIGHT.inc()
        error: BaseException | None = None
        with self._span(scope, method) as span:
            try:
                await self.app(scope, receive, send_observed)
            except BaseException as exc:
                error = exc
                raise
            finally:
                HTTP_REQUESTS_IN_FLIGHT.dec()
                duration = time.perf_counter() - started
                route = scope.get("path_template") or UNMATCHED_ROUTE
                method_label = method if method in _METHODS else "other"
                series = self._series.get((method_label, route, status))
                if series is None:
                    series = self._series[(method_label, route, status)] = (
                        HTTP_REQUESTS.labels(method_label, route, str(status)),
                        HTTP_REQUEST_DURATION.labels(method_label, route),
                    )
                series[0].inc()
                series[1].observe(duration)
                if span is not None:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                self._access_line(scope, method, path, route, status, duration, error)
                if request_body is not None and response_body is not None:
                    self._bodies(scope, request_body, response_body, response_type)
                structlog.contextvars.reset_contextvars(**tokens)

    @contextlib.contextmanager
    def _span(self, scope: Scope, method: str) -> Iterator[trace.Span | None]:
        if self.tracer is None:
            yield None
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ()) if k in _TRACE_HEADERS}
        parent = extract(carrier) if carrier else otel_context.Context()
        with self.tracer.start_as_current_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"], "url.scheme": scope["scheme"]},
            record_exception=False,
            set_status_on_exception=True,
        ) as span:
            yield span

    def _access_line(
        self,
        scope: Scope,
        method: str,
        path: str,
        route: str,
        status: int,
        duration: float,
        error: BaseException | None,
    ) -> None:
        if error is not None or status >= 500:
            level = logging.ERROR
        elif status >= 400:
            level = logging.WARNING
        elif route in QUIET_ROUTES:
            level = logging.DEBUG
        else:
            level = logging.INFO
        if not log.is_enabled_for(level):  # nothing to build: the line would be dropped
            return
        client = scope.get("client")
        fields: dict[str, Any] = {
            "method": method,
            "route": route,
            "path": path,
            "query": redact_query(scope.get("query_string", b"")),
            "status": status,
            "duration_ms": round(duration * 1000, 2),
            "client_ip": client[0] if client else None,
            "user_agent": _header(scope.get("headers", ()), b"user-agent"),
        }
        user_id = scope.get("state", {}).get(USER_ID_KEY)
        if user_id is not None:
            fields["user_id"] = user_id
        if error is not None:
            fields["exc_info"] = error
        log.log(level, "request", **fields)

    def _bodies(self, scope: Scope, request_body: _Body, response_body: _Body, response_type: str) -> None:
        headers = scope.get("headers", ())
        log.debug(
            "request_detail",
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in headers},
            request_body=render_body(
                bytes(request_body.data), _header(headers, b"content-type"), request_body.truncated
            ),
            response_body=render_body(bytes(response_body.data), response_type, response_body.truncated),
        )


def instrument(app: Litestar, settings: Settings) -> Litestar:
    """Add ``/metrics`` and wrap the app's outermost handler with the observability middleware."""
    global _global_provider_set
    provider = build_tracer_provider(settings)
    if provider is not None and not _global_provider_set:
        trace.set_tracer_provider(provider)  # outbound instrumentation shares the service's provider
        _global_provider_set = True
    if provider is not None:
        instrument_outbound(provider)  # before bootstrap (the lifespan) creates the clients
    app.register(metrics_endpoint)
    app.asgi_handler = ObservabilityMiddleware(
        app.asgi_handler, log_bodies=settings.log_level == "DEBUG", tracer_provider=provider
    )
    if provider is not None:

        async def flush_spans() -> None:
            provider.force_flush(timeout_millis=5000)
            uninstrument_outbound()

        app.on_shutdown.append(flush_spans)
    return app


def use_tracer_provider(app: Litestar, provider: TracerProvider | None) -> None:
    """Trace this app's requests with ``provider`` (tests use an in-memory exporter)."""
    middleware = app.asgi_handler
    assert isinstance(middleware, ObservabilityMiddleware), "instrument(app) first"
    middleware.tracer = provider.get_tracer("trellis.http") if provider is not None else None
