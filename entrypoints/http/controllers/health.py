"""``/health`` (liveness) and ``/health/ready`` (each configured dependency, with a short timeout)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import CacheControlHeader

from entrypoints.http.dependencies import container_of
from entrypoints.http.envelope import Envelope, ErrorBody, ErrorEnvelope, ok
from entrypoints.http.request import request_id
from entrypoints.http.schemas import HealthOut


def _ready_503() -> Any:
    from litestar.openapi.datastructures import ResponseSpec

    return ResponseSpec(data_container=ErrorEnvelope, description="A dependency is unavailable.")


class HealthController(Controller):
    path = "/health"
    tags = ["health"]  # noqa: RUF012
    cache_control = CacheControlHeader(no_store=True)

    @get("/", summary="Liveness", description="200 while the process serves requests; checks nothing else.")
    async def live(self) -> Envelope[HealthOut]:
        return ok(HealthOut(status="ok"))

    @get(
        "/ready",
        summary="Readiness",
        description="Checks every configured dependency (MongoDB, Redis, …) with a short timeout. 200 when all "
        "answer; 503 `dependency_unavailable` naming the ones that do not.",
        responses={503: _ready_503()},
    )
    async def ready(self, request: Request[Any, Any, Any]) -> Response[Any]:
        checks = await container_of(request).readiness()
        failing = sorted(name for name, state in checks.items() if state != "ok")
        if not failing:
            return Response(ok(HealthOut(status="ok", checks=checks)))
        body = ErrorEnvelope(
            error=ErrorBody(
                code="dependency_unavailable",
                message=f"Not ready: {', '.join(failing)} unavailable.",
                request_id=request_id(request.scope),
            )
        )
        return Response(body, status_code=503, headers={"Retry-After": "5"})
