"""The app as the service builds it, on the memory cache or on a real Redis (``backend``).

The app builds (and closes) its own container in its lifespan: the test client runs the app on
an event loop of its own, and Redis connections must be opened and closed on that loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from litestar.testing import AsyncTestClient

from entrypoints.http.app import create_app
from tests.integration.http.helpers import Api, make_settings
from tests.support.redis import redis_url


@asynccontextmanager
async def served(**settings: str) -> AsyncIterator[Api]:
    app = create_app(make_settings(**settings))
    async with AsyncTestClient(app) as client:
        yield Api(client=client, container=app.state.container)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.real_service)])
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    # these tests read a lot; limits are tested in tests/integration/ratelimit
    settings = {"RATE_LIMIT_DEFAULT": "100000/minute", "RATE_LIMIT_AUTH": "100000/minute"}
    if request.param == "redis":
        settings["REDIS_URL"] = redis_url()
    async with served(**settings) as value:
        yield value
