"""Fixtures for the HTTP integration suite: the app as the service builds it, on embedded defaults.

One app is built for the session; each test gets a fresh container (empty in-memory stores,
argon2 made cheap) behind it. ``api`` runs on the system clock, ``clocked_api`` on a
``FixedClock`` the test moves; ``member`` and ``other`` are two signed-in members. Either fails
its test if any response was a server error: bad input must never look like a crash.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.clock import FixedClock
from entrypoints.http.app import create_app
from tests.integration.http.helpers import Api, Member, api_on, make_settings


@pytest.fixture(scope="session")
def app() -> Litestar:
    return create_app(make_settings())


@asynccontextmanager
async def never_a_500(api: Api) -> AsyncIterator[Api]:
    """Fails the test if any response it received was a server error (503 aside: a real answer)."""
    crashes: list[str] = []

    async def record(response: httpx.Response) -> None:
        if response.status_code >= 500 and response.status_code != 503:
            await response.aread()
            crashes.append(f"{response.request.method} {response.request.url.path}: {response.text}")

    api.client.event_hooks["response"].append(record)
    yield api
    assert crashes == []


@pytest.fixture
async def api(app: Litestar) -> AsyncIterator[Api]:
    async with api_on(app) as value, never_a_500(value):
        yield value


@pytest.fixture
def client(api: Api) -> AsyncTestClient[Any]:
    return api.client


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
async def clocked_api(app: Litestar, clock: FixedClock) -> AsyncIterator[Api]:
    """The app on a clock the test moves (``clock.advance``)."""
    async with api_on(app, clock=clock) as value, never_a_500(value):
        yield value


@pytest.fixture
async def member(api: Api) -> Member:
    return await api.member()


@pytest.fixture
async def other(api: Api) -> Member:
    return await api.member()
