"""The two failure paths of issue 5 that need timing or a dying Redis:

- a duplicate request arriving while the first with the same Idempotency-Key still runs is
  409 ``idempotency_in_flight`` (and the first one's response is replayed afterwards);
- with the rate-limit store down, requests pass (fail-open, counted) and a request that asked
  for duplicate protection gets 503 rather than running without it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from entrypoints.http.app import create_app
from tests.integration.cache.conftest import served
from tests.integration.http.helpers import Api, assert_error, assert_success, make_settings
from tests.support.redis import private_redis_server


def _bypasses() -> float:
    return REGISTRY.get_sample_value("trellis_rate_limit_bypass_total") or 0.0


@asynccontextmanager
async def on_this_loop(**settings: str) -> AsyncIterator[Api]:
    """The app served on the test's own event loop, so requests can really overlap (the test
    client hands requests to its own loop one at a time)."""
    app = create_app(make_settings(**settings))
    async with app.lifespan():
        transport = httpx.ASGITransport(app=cast(Any, app), client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client=cast(AsyncTestClient[Any], client), container=app.state.container)


async def test_a_duplicate_in_flight_is_409_and_the_first_response_is_replayed_after() -> None:
    async with on_this_loop(RATE_LIMIT_AUTH="1000/minute") as api:
        member = await api.member()
        service = api.container.projects
        original = service.create

        async def slow_create(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0.5)  # the first request is still running when the second arrives
            return await original(*args, **kwargs)

        service.create = slow_create  # type: ignore[method-assign]
        headers = {**member.headers, "Idempotency-Key": uuid.uuid4().hex}

        async def post() -> Any:
            return await api.client.post("/api/v1/projects", json={"title": "Once"}, headers=headers)

        first = asyncio.create_task(post())
        await asyncio.sleep(0.1)
        second = await post()
        assert_error(second, 409, "idempotency_in_flight")
        created = assert_success(await first, 201)

        replay = await post()
        assert replay.status_code == 201
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json()["data"]["id"] == created["id"]
        assert [p.id for p in await api.stored_projects()] == [created["id"]]


@pytest.mark.real_service
async def test_with_redis_down_limits_fail_open_and_idempotent_creates_are_503() -> None:
    with private_redis_server() as redis:
        async with served(REDIS_URL=redis.url, RATE_LIMIT_AUTH="1000/minute") as api:
            member = await api.member()
            limited = await api.client.get("/api/v1/projects", headers=member.headers)
            assert "RateLimit-Limit" in limited.headers

            redis.kill()
            before = _bypasses()
            for _ in range(3):
                response = await api.client.get("/api/v1/projects", headers=member.headers)
                assert response.status_code == 200
                assert "RateLimit-Limit" not in response.headers
            assert _bypasses() >= before + 3, "each request let through is counted"

            guarded = await api.client.post(
                "/api/v1/projects",
                json={"title": "Needs protection"},
                headers={**member.headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert_error(guarded, 503, "dependency_unavailable")
            assert guarded.headers["Retry-After"]
            assert await api.stored_projects() == []

            redis.restart()
            back = await api.client.get("/api/v1/projects", headers=member.headers)
            assert back.status_code == 200
            assert "RateLimit-Limit" in back.headers
