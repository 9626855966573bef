"""Fixtures for the HTTP integration suite: the app as the service builds it, on embedded defaults.

``api`` is the app over in-memory adapters with argon2 made cheap; ``clocked_api`` is the same on
a ``FixedClock`` the test moves; ``member`` and ``other`` are two signed-in members.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from adapters.memory.clock import FixedClock
from tests.integration.http.helpers import Api, Member, running_api


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with running_api() as value:
        yield value


@pytest.fixture
def client(api: Api) -> AsyncTestClient[Any]:
    return api.client


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
async def clocked_api(clock: FixedClock) -> AsyncIterator[Api]:
    """The app on a clock the test moves (``clock.advance``)."""
    async with running_api(clock=clock) as value:
        yield value


@pytest.fixture
async def member(api: Api) -> Member:
    return await api.member()


@pytest.fixture
async def other(api: Api) -> Member:
    return await api.member()
