"""Unit-of-work wrappers for the application tests: real memory repositories underneath,
with scheduling points (so asyncio.gather really interleaves) and injected failures."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from adapters.memory.unit_of_work import MemoryUnitOfWork
from domain.events import DomainEvent


class _Repository:
    """Delegates to a repository, logging each call; may yield around it or fail on it."""

    def __init__(self, name: str, inner: Any, owner: WrappedUnitOfWork) -> None:
        self._name = name
        self._inner = inner
        self._owner = owner

    def __getattr__(self, method: str) -> Any:
        target = getattr(self._inner, method)
        if not inspect.iscoroutinefunction(target):
            return target
        owner, qualified = self._owner, f"{self._name}.{method}"

        async def call(*args: Any, **kwargs: Any) -> Any:
            owner.calls.append(qualified)
            if owner.yielding:
                await asyncio.sleep(0)
            failure = owner.failures.get(qualified)
            if failure is not None:
                raise failure()
            result = await target(*args, **kwargs)
            if owner.yielding:
                await asyncio.sleep(0)
            return result

        return call


class WrappedUnitOfWork:
    """A ``UnitOfWork`` over a :class:`MemoryUnitOfWork`.

    ``yielding``: every repository call gives the event loop a turn before and after it, as a
    networked store would, so concurrent use cases interleave. ``failures`` maps
    ``"projects.update"``-style names to an exception factory raised instead of the call.
    """

    def __init__(self, inner: MemoryUnitOfWork, *, yielding: bool = False) -> None:
        self.inner = inner
        self.yielding = yielding
        self.failures: dict[str, Callable[[], BaseException]] = {}
        self.calls: list[str] = []
        self.users = _Repository("users", inner.users, self)
        self.projects = _Repository("projects", inner.projects, self)
        self.tasks = _Repository("tasks", inner.tasks, self)
        self.posts = _Repository("posts", inner.posts, self)
        self.collections = _Repository("collections", inner.collections, self)

    def transaction(self) -> AbstractAsyncContextManager[None]:
        return self.inner.transaction()

    def in_transaction(self) -> bool:
        return self.inner.store.current_transaction() is not None


class Boom(Exception):
    """An injected failure (a store that went away mid-request)."""


def names(events: tuple[DomainEvent, ...] | list[DomainEvent]) -> list[str]:
    return [event.name for event in events]
