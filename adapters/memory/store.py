"""The in-memory store behind the memory repositories: committed tables plus transactions.

Records are kept as private copies; the repositories copy on the way in and out. Every
method here is synchronous: a check and the write it guards never straddle an ``await``,
so on the event loop each write, and each commit, is atomic.

Transactions are tracked per asyncio task through a ``ContextVar``: inside one, writes are
staged against the transaction (together with the committed version each write was based
on) and reads see the staged writes first. Commit re-checks every staged write against the
committed tables (versions and unique keys) and then applies all of them, or none.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from domain.board import Project, Task
from domain.content import Collection, Post
from domain.errors import Conflict, EmailTaken, NotFound, VersionConflict
from domain.identity import User


class Record(Protocol):
    """What the store needs of an entity: an id, a version and the soft-delete marker."""

    id: str
    version: int
    deleted_at: datetime | None


R = TypeVar("R", bound=Record)


class _Transaction:
    """One open transaction of one store (identity-hashed: it keys the staged writes)."""

    __slots__ = ("open", "store")

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.open = True


# Module level on purpose (contextvars must not be created per instance): the transactions
# open in the current context, at most one per store. An immutable tuple, so a child task
# that copied the context never shares a mutable container with its parent.
_ACTIVE: contextvars.ContextVar[tuple[_Transaction, ...]] = contextvars.ContextVar(
    "trellis_memory_transactions", default=()
)


class _Staged(Generic[R]):
    __slots__ = ("base_version", "record")

    def __init__(self, record: R, base_version: int | None) -> None:
        self.record = record
        #: the committed version this write was based on; None for a record the transaction added
        self.base_version = base_version


class UniqueKey(Generic[R]):
    """A key that must be unique among live records (e.g. a user's e-mail)."""

    def __init__(self, key: Callable[[R], str], error: Callable[[], Exception]) -> None:
        self.key = key
        self.error = error


class Table(Generic[R]):
    """One collection: the committed rows and, per open transaction, the staged writes."""

    def __init__(self, store: MemoryStore, name: str, unique: UniqueKey[R] | None = None) -> None:
        self.name = name
        self._store = store
        self._unique = unique
        self._committed: dict[str, R] = {}
        self._pending: dict[_Transaction, dict[str, _Staged[R]]] = {}
        #: told (old, new) about every committed change (None: absent), e.g. the keyset indexes
        self._watchers: list[Callable[[R | None, R | None], None]] = []

    # --- reads (raw: callers copy before handing anything out) -----------------------------

    def find(self, record_id: str) -> R | None:
        """The record as the current context sees it, deleted or not."""
        staged = self._staged()
        if staged is not None and record_id in staged:
            return staged[record_id].record
        return self._committed.get(record_id)

    def find_live(self, record_id: str) -> R | None:
        found = self.find(record_id)
        return found if found is not None and found.deleted_at is None else None

    def live(self) -> Iterator[R]:
        """Every live record as the current context sees it (staged writes first)."""
        staged = self._staged()
        if not staged:
            rows: Iterator[R] = iter(self._committed.values())
        else:
            merged = dict(self._committed)
            merged.update({record_id: entry.record for record_id, entry in staged.items()})
            rows = iter(merged.values())
        return (row for row in rows if row.deleted_at is None)

    def committed_rows(self) -> Iterator[R]:
        """Every committed record, deleted ones included (for building an index)."""
        return iter(self._committed.values())

    def has_staged_writes(self) -> bool:
        """True when the current context's transaction has written to this table."""
        transaction = self._store.current_transaction()
        return transaction is not None and bool(self._pending.get(transaction))

    def watch(self, watcher: Callable[[R | None, R | None], None]) -> None:
        """Call ``watcher(old, new)`` on every committed change from now on (None: no record)."""
        self._watchers.append(watcher)

    def _commit_row(self, record_id: str, record: R | None) -> None:
        old = self._committed.get(record_id)
        if record is None:
            del self._committed[record_id]
        else:
            self._committed[record_id] = record
        for watcher in self._watchers:
            watcher(old, record)

    # --- writes (the record passed in is already a private copy) ----------------------------

    def insert(self, record: R) -> None:
        if self.find(record.id) is not None:
            raise Conflict("A record with this id already exists.")
        self._check_unique(record)
        staged = self._staged()
        if staged is None:
            self._commit_row(record.id, record)
        else:
            staged[record.id] = _Staged(record, None)

    def replace(self, record: R, expected_version: int) -> None:
        """Conditional write: ``record`` becomes version ``expected_version + 1``."""
        current = self.find(record.id)
        if current is None or current.deleted_at is not None:
            raise NotFound()
        if current.version != expected_version:
            raise VersionConflict()
        record.version = expected_version + 1
        self._check_unique(record)
        staged = self._staged()
        if staged is None:
            self._commit_row(record.id, record)
        elif record.id in staged:
            staged[record.id] = _Staged(record, staged[record.id].base_version)
        else:
            staged[record.id] = _Staged(record, expected_version)

    def purge(self, doomed: Callable[[R], bool]) -> list[str]:
        """Remove committed records for good (maintenance; not part of a transaction)."""
        ids = [record_id for record_id, record in self._committed.items() if doomed(record)]
        for record_id in ids:
            self._commit_row(record_id, None)
        return ids

    def _check_unique(self, record: R) -> None:
        if self._unique is None or record.deleted_at is not None:
            return
        key = self._unique.key(record)
        for other in self.live():
            if other.id != record.id and self._unique.key(other) == key:
                raise self._unique.error()

    # --- transactions -----------------------------------------------------------------------

    def _staged(self) -> dict[str, _Staged[R]] | None:
        """The current transaction's staged writes, or None outside a transaction."""
        transaction = self._store.current_transaction()
        if transaction is None:
            return None
        return self._pending.setdefault(transaction, {})

    def check_commit(self, transaction: _Transaction) -> None:
        """Raise if any staged write no longer fits the committed rows. Changes nothing."""
        staged = self._pending.get(transaction)
        if not staged:
            return
        for record_id, entry in staged.items():
            committed = self._committed.get(record_id)
            if entry.base_version is None:
                if committed is not None:
                    raise Conflict("A record with this id already exists.")
            elif committed is None or committed.version != entry.base_version:
                raise VersionConflict()
        if self._unique is not None:
            self._check_unique_at_commit(self._unique, staged)

    def _check_unique_at_commit(self, unique: UniqueKey[R], staged: dict[str, _Staged[R]]) -> None:
        owners: dict[str, str] = {}
        for record_id, row in self._committed.items():
            if record_id not in staged and row.deleted_at is None:
                owners[unique.key(row)] = record_id
        for record_id, entry in staged.items():
            if entry.record.deleted_at is not None:
                continue
            key = unique.key(entry.record)
            if owners.setdefault(key, record_id) != record_id:
                raise unique.error()

    def apply(self, transaction: _Transaction) -> None:
        for record_id, entry in self._pending.pop(transaction, {}).items():
            self._commit_row(record_id, entry.record)

    def discard(self, transaction: _Transaction) -> None:
        self._pending.pop(transaction, None)


class MemoryStore:
    """All the tables of one in-memory database, and its transactions."""

    def __init__(self) -> None:
        self.users: Table[User] = Table(self, "users", UniqueKey(_email_of, EmailTaken))
        self.projects: Table[Project] = Table(self, "projects")
        self.tasks: Table[Task] = Table(self, "tasks")
        self.posts: Table[Post] = Table(self, "posts")
        self.collections: Table[Collection] = Table(self, "collections")
        self._tables: tuple[Table[Any], ...] = (self.users, self.projects, self.tasks, self.posts, self.collections)

    def current_transaction(self) -> _Transaction | None:
        for transaction in _ACTIVE.get():
            if transaction.store is self and transaction.open:
                return transaction
        return None

    def transaction(self) -> TransactionScope:
        return TransactionScope(self)

    def _commit(self, transaction: _Transaction) -> None:
        # No await in here: the checks and the writes they guard are one atomic step.
        transaction.open = False
        for table in self._tables:
            table.check_commit(transaction)
        for table in self._tables:
            table.apply(transaction)

    def _discard(self, transaction: _Transaction) -> None:
        transaction.open = False
        for table in self._tables:
            table.discard(transaction)


class TransactionScope:
    """``async with store.transaction():`` — commit on normal exit, discard on an exception.

    Entered while a transaction of the same store is already open in this context, it joins
    that one: nothing is committed or discarded until the outermost block exits.
    """

    __slots__ = ("_store", "_token", "_transaction")

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._transaction: _Transaction | None = None
        self._token: contextvars.Token[tuple[_Transaction, ...]] | None = None

    async def __aenter__(self) -> None:
        if self._store.current_transaction() is not None:
            return  # nested: join the outer transaction
        transaction = _Transaction(self._store)
        self._transaction = transaction
        self._token = _ACTIVE.set((*_ACTIVE.get(), transaction))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        transaction, token = self._transaction, self._token
        if transaction is None or token is None:
            return  # a joined (nested) block: the outer one decides
        self._transaction = self._token = None
        try:
            if exc_type is None:
                self._store._commit(transaction)
        finally:
            self._store._discard(transaction)
            _ACTIVE.reset(token)


def _email_of(user: User) -> str:
    return user.email
