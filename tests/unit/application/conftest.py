"""The application services wired to the real in-memory adapters, on a fixed clock."""

from __future__ import annotations

import pytest

from adapters.memory.clock import FixedClock
from adapters.memory.events import InMemoryEventPublisher
from adapters.memory.hashing import Pbkdf2PasswordHasher
from adapters.memory.ids import UuidGenerator
from adapters.memory.refresh_tokens import MemoryRefreshTokenStore
from adapters.memory.tokens import InMemoryTokenService
from adapters.memory.unit_of_work import MemoryUnitOfWork
from application.accounts import AccountService
from application.common import Ports
from application.projects import ProjectService
from application.tasks import TaskService


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def publisher() -> InMemoryEventPublisher:
    return InMemoryEventPublisher()


@pytest.fixture
def memory_uow() -> MemoryUnitOfWork:
    return MemoryUnitOfWork()


@pytest.fixture
def ports(memory_uow: MemoryUnitOfWork, clock: FixedClock, publisher: InMemoryEventPublisher) -> Ports:
    return Ports(uow=memory_uow, clock=clock, ids=UuidGenerator(), publisher=publisher)


@pytest.fixture
def hasher() -> Pbkdf2PasswordHasher:
    return Pbkdf2PasswordHasher(iterations=1000)


@pytest.fixture
def tokens() -> InMemoryTokenService:
    return InMemoryTokenService()


@pytest.fixture
def refresh_store(clock: FixedClock) -> MemoryRefreshTokenStore:
    # family expiries are computed from the fixed clock, so the store must read the same clock
    return MemoryRefreshTokenStore(clock=lambda: clock.now().timestamp())


@pytest.fixture
def accounts(
    ports: Ports,
    hasher: Pbkdf2PasswordHasher,
    tokens: InMemoryTokenService,
    refresh_store: MemoryRefreshTokenStore,
) -> AccountService:
    return AccountService(ports, hasher, tokens, refresh_store)


@pytest.fixture
def projects(ports: Ports) -> ProjectService:
    return ProjectService(ports)


@pytest.fixture
def tasks(ports: Ports) -> TaskService:
    return TaskService(ports)
