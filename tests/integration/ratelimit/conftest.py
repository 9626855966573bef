"""Apps with chosen rate-limit settings, on in-process storage or a real Redis (``backend``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from tests.integration.cache.conftest import served
from tests.integration.http.helpers import Api
from tests.support.redis import redis_url

AppFactory = Callable[..., AbstractAsyncContextManager[Api]]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.real_service)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app_with(backend: str) -> AppFactory:
    @asynccontextmanager
    async def build(**settings: str) -> AsyncIterator[Api]:
        # sign-ups and logins of the helpers share the test client's address: a bucket of its own
        settings.setdefault("RATE_LIMIT_AUTH", "1000/minute")
        if backend == "redis":
            settings["REDIS_URL"] = redis_url()
        async with served(**settings) as api:
            yield api

    return build
