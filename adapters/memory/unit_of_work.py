"""The in-memory unit of work: the three repositories over one store, with transactions."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from adapters.memory.content import MemoryCollectionRepository, MemoryPostRepository
from adapters.memory.repositories import MemoryProjectRepository, MemoryTaskRepository, MemoryUserRepository
from adapters.memory.store import MemoryStore


class MemoryUnitOfWork:
    """Implements ``domain.ports.UnitOfWork``; one instance serves every request.

    ``transaction()`` is all-or-nothing with read-your-writes. Open transactions are tracked
    per asyncio task (through a ``ContextVar``), so concurrent requests never see each other's
    uncommitted writes; a task started inside a transaction takes part in it. Commit re-checks
    each staged write's version and the unique e-mail rule against what others committed in
    the meantime and raises ``VersionConflict`` / ``EmailTaken`` instead of applying anything.
    Nested ``transaction()`` blocks join the outermost one.
    """

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store if store is not None else MemoryStore()
        self.users = MemoryUserRepository(self.store)
        self.projects = MemoryProjectRepository(self.store)
        self.tasks = MemoryTaskRepository(self.store)
        self.posts = MemoryPostRepository(self.store)
        self.collections = MemoryCollectionRepository(self.store)

    def transaction(self) -> AbstractAsyncContextManager[None]:
        return self.store.transaction()
