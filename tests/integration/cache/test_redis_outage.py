"""Redis dies while requests run: reads keep answering (bypass, counted), writes succeed, rate
limits fail open, and once Redis is back the same app uses the cache again."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.cache.conftest import served
from tests.integration.cache.test_read_cache import cache_events, read
from tests.integration.http.helpers import assert_success
from tests.support.redis import private_redis_server

pytestmark = pytest.mark.real_service


async def test_reads_survive_a_redis_outage_and_the_cache_returns_after_it() -> None:
    with private_redis_server() as redis:
        async with served(REDIS_URL=redis.url, RATE_LIMIT_AUTH="1000/minute") as api:
            owner = await api.member()
            pid = (await api.create_project(owner, visibility="public"))["id"]
            task = await api.create_task(owner, pid, progress=40)
            path = f"/api/v1/projects/{pid}"
            assert (await read(api, owner, path))[0] == 200
            hits = cache_events("hit")
            assert (await read(api, owner, path))[0] == 200
            assert cache_events("hit") > hits

            redis.kill()
            bypasses = cache_events("bypass")

            async def reader() -> None:
                for _ in range(5):
                    response = await api.client.get(path, headers=owner.headers)
                    assert response.status_code == 200
                    assert "RateLimit-Limit" not in response.headers  # the limiter failed open

            await asyncio.gather(reader(), reader())
            assert cache_events("bypass") > bypasses
            changed = await api.client.patch(
                f"/api/v1/tasks/{task['id']}", json={"progress": 80}, headers=owner.headers
            )
            assert_success(changed)  # the write succeeds although its invalidation cannot
            status, project = await read(api, owner, path)
            assert (status, project["progress"]) == (200, 80)

            redis.restart()
            await read(api, owner, path)  # a miss: stores the entry again
            hits = cache_events("hit")
            response = await api.client.get(path, headers=owner.headers)
            assert response.json()["data"]["progress"] == 80
            assert cache_events("hit") > hits, "the cache is used again without restarting the app"
            assert "RateLimit-Limit" in response.headers
