"""The repository + unit-of-work contract suite runs once per adapter listed in ``ADAPTERS``.

Each factory is an async context manager yielding a fresh, empty ``UnitOfWork`` and cleaning
up after it. Tests use the port only, never an adapter's internals, so every adapter must
pass every test unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from adapters.memory.clock import FixedClock
from adapters.memory.unit_of_work import MemoryUnitOfWork
from domain.ports import UnitOfWork
from tests.contract.repositories.builders import START, Builders, Outside
from tests.support.mongo import mongo_unit_of_work


@asynccontextmanager
async def memory_unit_of_work() -> AsyncIterator[UnitOfWork]:
    yield MemoryUnitOfWork()


UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]

ADAPTERS: dict[str, UnitOfWorkFactory] = {
    "memory": memory_unit_of_work,
    # MongoDB: add the line below (with `from tests.support.mongo import mongo_unit_of_work`);
    # the factory itself skips, or fails under REQUIRE_REAL_SERVICES=1, when no server is available.
    "mongo": mongo_unit_of_work,
}


@pytest.fixture(params=list(ADAPTERS))
async def uow(request: pytest.FixtureRequest) -> AsyncIterator[UnitOfWork]:
    async with ADAPTERS[request.param]() as unit_of_work:
        yield unit_of_work


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def build(clock: FixedClock) -> Builders:
    return Builders(clock)


@pytest.fixture
async def outside() -> AsyncIterator[Outside]:
    async with Outside() as runner:
        yield runner
