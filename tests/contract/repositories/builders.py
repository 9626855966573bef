"""Builders for the repository contract suite, and a helper that plays "another request".

Timestamps come from a fixed clock at whole seconds (every store keeps them exactly; MongoDB
keeps milliseconds), and ids from a seeded generator, so a failing run can be replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

from adapters.memory.clock import FixedClock
from domain.board import Project, SiteLocation, Task, Visibility
from domain.identity import ExternalIdentity, Role, User
from domain.paging import PageRequest, Sort

T = TypeVar("T")

START = datetime.fromisoformat("2025-03-01T08:00:00+00:00")

#: one page big enough for everything a test stores
EVERYTHING = PageRequest(page=1, size=100, sort=Sort("created_at"))


def everything(field: str = "created_at", descending: bool = False) -> PageRequest:
    return PageRequest(page=1, size=100, sort=Sort(field, descending))


class Builders:
    """Valid entities with sensible defaults; keyword arguments override any field."""

    def __init__(self, clock: FixedClock, seed: int = 20250301) -> None:
        self.clock = clock
        self._random = random.Random(seed)
        self._emails = 0

    def new_id(self) -> str:
        return f"{self._random.getrandbits(96):024x}"

    def _stamp(self) -> datetime:
        now = self.clock.now()
        self.clock.advance(timedelta(seconds=1))  # builds get increasing created_at by default
        return now

    def user(self, **overrides: Any) -> User:
        self._emails += 1
        now = self._stamp()
        user = User(
            id=self.new_id(),
            email=f"user{self._emails}@example.com",
            display_name=f"User {self._emails}",
            roles=frozenset({Role.MEMBER}),
            created_at=now,
            updated_at=now,
            password_hash="hash-not-checked-here",
            identities=(),
        )
        return dataclasses.replace(user, **overrides)

    def project(self, owner_id: str = "owner-1", **overrides: Any) -> Project:
        now = self._stamp()
        project = Project(
            id=self.new_id(),
            owner_id=owner_id,
            title="Bridge repair",
            created_at=now,
            updated_at=now,
            description="Replace the deck boards.",
            visibility=Visibility.PERSONAL,
            finish_date=date(2025, 6, 30),
            site=SiteLocation(place="Ghent", lat=51.05, lon=3.72),
        )
        return dataclasses.replace(project, **overrides)

    def task(self, project_id: str, **overrides: Any) -> Task:
        now = self._stamp()
        task = Task(
            id=self.new_id(),
            project_id=project_id,
            title="Order timber",
            created_at=now,
            updated_at=now,
            description="Oak, 40 boards.",
            tag="supplies",
            progress=0,
            finish_date=date(2025, 4, 15),
        )
        return dataclasses.replace(task, **overrides)

    @staticmethod
    def identity(issuer: str = "https://id.example.com/realms/trellis", subject: str = "sub-1") -> ExternalIdentity:
        return ExternalIdentity(issuer=issuer, subject=subject)


class Outside:
    """Runs calls in a task started before any transaction: a concurrent, separate request.

    A transaction belongs to the task that opened it (and tasks it starts), so a call made
    through ``run`` never takes part in a transaction the test has open.
    """

    def __init__(self) -> None:
        self._calls: asyncio.Queue[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Outside:
        self._worker = asyncio.create_task(self._serve())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        result: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._calls.put((call, result))
        return await result

    async def _serve(self) -> None:
        while True:
            call, result = await self._calls.get()
            try:
                value = await call()
            except Exception as error:
                result.set_exception(error)
            else:
                result.set_result(value)
