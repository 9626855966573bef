"""What only the MongoDB adapter has to prove: real transactions, outages, indexes.

Runs against ``MONGODB_URL`` when set, else the mongoeco wire server (tests/support/mongo.py).
The outage test needs a server it may kill, so it always runs its own wire server.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pytest

from adapters.mongo import MongoDatabase, MongoUnitOfWork
from adapters.mongo.documents import ALL_DOCUMENTS
from domain.board import Project, Task, Visibility, progress_from_totals
from domain.errors import DependencyUnavailable, EmailTaken, NotFound, VersionConflict
from domain.identity import Role, User
from domain.paging import PageRequest
from domain.ports import TaskQuery
from tests.support.mongo import WIRE_PYTHON, mongo_database, mongo_url, start_wire_server, wire_url

pytestmark = pytest.mark.real_service

T = TypeVar("T")
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


class Injected(Exception):
    """The failure a test injects between two writes."""


@pytest.fixture
async def database() -> AsyncIterator[MongoDatabase]:
    async with mongo_database() as db:
        yield db


@pytest.fixture
def uow(database: MongoDatabase) -> MongoUnitOfWork:
    if not database.supports_transactions:
        pytest.skip("this MongoDB is a standalone server: no transactions (needs a replica set)")
    return database.unit_of_work()


def user(n: int, **kw: Any) -> User:
    fields: dict[str, Any] = {
        "id": f"user-{n}",
        "email": f"user{n}@example.com",
        "display_name": f"User {n}",
        "roles": frozenset({Role.MEMBER}),
        "created_at": T0,
        "updated_at": T0,
    }
    return User(**(fields | kw))


def project(pid: str = "p1") -> Project:
    return Project(
        id=pid, owner_id="user-1", title="Bridge", created_at=T0, updated_at=T0, visibility=Visibility.PUBLIC
    )


def task(n: int, pid: str = "p1", progress: int = 0) -> Task:
    return Task(
        id=f"t{n}",
        project_id=pid,
        title=f"Task {n}",
        created_at=T0 + timedelta(seconds=n),
        updated_at=T0,
        progress=progress,
        tag="a" if n % 2 else "b",
        finish_date=date(2025, 4, n + 1),
    )


def elsewhere(call: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Run ``call`` as another request would: a task in a fresh context, outside any transaction.

    (A task created normally copies the context, and with it the open transaction.)
    """
    return asyncio.create_task(call, context=contextvars.Context())


async def seed_board(uow: MongoUnitOfWork) -> None:
    await uow.projects.add(project())
    for n in range(3):
        await uow.tasks.add(task(n, progress=n * 10))


async def change_task_and_progress(
    uow: MongoUnitOfWork, task_id: str, progress: int, between: Callable[[], Awaitable[None]] | None = None
) -> None:
    """What the task use case does: write the task, recompute and write the project."""
    async with uow.transaction():
        current = await uow.tasks.get(task_id)
        assert current is not None
        current.progress = progress
        await uow.tasks.update(current, current.version)
        if between is not None:
            await between()
        board = await uow.projects.get("p1")
        assert board is not None
        board.progress = progress_from_totals(*await uow.tasks.progress_totals("p1"))
        await uow.projects.update(board, board.version)


# --- transactions ------------------------------------------------------------------------


async def test_transaction_commits_both_writes(uow: MongoUnitOfWork) -> None:
    await seed_board(uow)
    await change_task_and_progress(uow, "t0", 60)
    assert (await uow.tasks.get("t0")).progress == 60  # type: ignore[union-attr]
    stored = await uow.projects.get("p1")
    assert stored is not None
    assert (stored.progress, stored.version) == (30.0, 2)


async def test_failure_between_two_writes_leaves_nothing_half_applied(uow: MongoUnitOfWork) -> None:
    await seed_board(uow)

    async def fail() -> None:
        # inside the transaction the task write is visible …
        assert (await uow.tasks.get("t0")).progress == 90  # type: ignore[union-attr]
        raise Injected

    with pytest.raises(Injected):
        await change_task_and_progress(uow, "t0", 90, between=fail)

    # … and after the abort neither write exists.
    stored_task = await uow.tasks.get("t0")
    stored_project = await uow.projects.get("p1")
    assert stored_task is not None
    assert stored_project is not None
    assert (stored_task.progress, stored_task.version) == (0, 1)
    assert (stored_project.progress, stored_project.version) == (0.0, 1)
    assert await uow.tasks.progress_totals("p1") == (3, 30)


async def test_lost_race_on_the_second_write_rolls_back_the_first(uow: MongoUnitOfWork) -> None:
    await seed_board(uow)
    other = uow  # another request on the same database, outside the transaction

    async def concurrent_project_edit() -> None:
        async def edit() -> None:
            board = await other.projects.get("p1")
            assert board is not None
            board.title = "Renamed meanwhile"
            await other.projects.update(board, board.version)

        await elsewhere(edit())

    with pytest.raises(VersionConflict):
        await change_task_and_progress(uow, "t1", 100, between=concurrent_project_edit)

    assert (await uow.tasks.get("t1")).progress == 10  # type: ignore[union-attr]
    board = await uow.projects.get("p1")
    assert board is not None
    assert (board.title, board.progress, board.version) == ("Renamed meanwhile", 0.0, 2)


async def delete_board(uow: MongoUnitOfWork, fail: bool) -> None:
    """What the project delete use case does: the project and its tasks, together."""
    async with uow.transaction():
        board = await uow.projects.get("p1")
        assert board is not None
        board.deleted_at = T0
        await uow.projects.update(board, board.version)
        assert await uow.tasks.soft_delete_for_project("p1", T0) == 3
        assert (await uow.tasks.list(TaskQuery("p1"), PageRequest())).total == 0
        if fail:
            raise Injected


async def test_cascading_delete_rolls_back_together(uow: MongoUnitOfWork) -> None:
    await seed_board(uow)
    with pytest.raises(Injected):
        await delete_board(uow, fail=True)
    assert await uow.projects.get("p1") is not None
    assert (await uow.tasks.list(TaskQuery("p1"), PageRequest())).total == 3

    await delete_board(uow, fail=False)
    assert await uow.projects.get("p1") is None
    assert await uow.tasks.progress_totals("p1") == (0, 0)


async def test_uncommitted_writes_are_invisible_to_other_requests(uow: MongoUnitOfWork) -> None:
    await seed_board(uow)
    seen_outside: list[Task | None] = []

    async with uow.transaction():
        await uow.tasks.add(task(7))
        assert await uow.tasks.get("t7") is not None
        seen_outside.append(await elsewhere(uow.tasks.get("t7")))
    assert seen_outside == [None]
    assert await uow.tasks.get("t7") is not None


async def test_concurrent_requests_do_not_share_a_session(uow: MongoUnitOfWork) -> None:
    await seed_board(uow)
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow_failing_request() -> None:
        async with uow.transaction():
            await uow.tasks.add(task(8))
            started.set()
            await release.wait()
            raise Injected

    failing = asyncio.create_task(slow_failing_request())
    await started.wait()
    await uow.tasks.add(task(9))  # this task has no transaction: stands alone
    release.set()
    with pytest.raises(Injected):
        await failing
    assert await uow.tasks.get("t8") is None
    assert await uow.tasks.get("t9") is not None


async def test_without_transactions_each_write_stands_alone(database: MongoDatabase) -> None:
    """A standalone mongod (development only): the documented fallback, writes are not grouped."""
    uow = MongoUnitOfWork(database.client, database.database, transactional=False)
    await seed_board(uow)
    with pytest.raises(Injected):
        await change_task_and_progress(uow, "t0", 90, between=_raise_injected)
    assert (await uow.tasks.get("t0")).progress == 90  # type: ignore[union-attr]
    stale = await uow.projects.get("p1")
    assert stale is not None
    assert stale.progress == 0.0  # stale until the next change or the consistency job recomputes it


async def _raise_injected() -> None:
    raise Injected


# --- errors ---------------------------------------------------------------------------------


async def test_duplicate_email_on_update_is_email_taken(database: MongoDatabase) -> None:
    uow = database.unit_of_work()
    await uow.users.add(user(1))
    await uow.users.add(user(2))
    second = await uow.users.get("user-2")
    assert second is not None
    second.email = "USER1@example.com"
    with pytest.raises(EmailTaken):
        await uow.users.update(second, second.version)


async def test_update_of_deleted_record_is_not_found(database: MongoDatabase) -> None:
    uow = database.unit_of_work()
    await uow.projects.add(project())
    board = await uow.projects.get("p1")
    assert board is not None
    board.deleted_at = T0
    deleted = await uow.projects.update(board, 1)
    with pytest.raises(NotFound):
        await uow.projects.update(deleted, deleted.version)


# --- indexes --------------------------------------------------------------------------------


async def test_declared_indexes_exist_and_start_up_is_idempotent(database: MongoDatabase) -> None:
    for document in ALL_DOCUMENTS:
        existing = await database.database[document.collection_name].index_information()
        declared = {model.document["name"] for model in document.Settings.indexes}
        assert declared <= set(existing), document.collection_name

    email = (await database.database["users"].index_information())["email_live_unique"]
    assert email["unique"] is True
    assert dict(email["partialFilterExpression"]) == {"deleted_at": None}

    url = mongo_url()
    again = await MongoDatabase.connect(url, database.database.name)  # indexes already there: no error
    try:
        after = await again.database["tasks"].index_information()
        assert {"project_live_created", "project_live_tag_created"} <= set(after)
    finally:
        await again.close()


async def test_a_deleted_account_frees_its_email(database: MongoDatabase) -> None:
    uow = database.unit_of_work()
    await uow.users.add(user(1))
    first = await uow.users.get("user-1")
    assert first is not None
    first.deleted_at = T0
    await uow.users.update(first, first.version)
    await uow.users.add(user(2, email="user1@example.com"))
    with pytest.raises(EmailTaken):
        await uow.users.add(user(3, email="User1@Example.com"))


async def test_a_user_document_written_before_the_token_cutoff_existed_reads_as_none(
    database: MongoDatabase,
) -> None:
    uow = database.unit_of_work()
    await uow.users.add(user(1))
    await database.database["users"].update_one({"_id": "user-1"}, {"$unset": {"tokens_valid_after": ""}})
    raw = await database.database["users"].find_one({"_id": "user-1"})
    assert raw is not None
    assert "tokens_valid_after" not in raw

    found = await uow.users.get("user-1")

    assert found is not None
    assert found.tokens_valid_after is None
    assert found.accepts_token_issued_at(T0)


# --- outage and recovery --------------------------------------------------------------------


async def test_outage_raises_dependency_unavailable_and_recovers_without_a_new_client() -> None:
    if os.environ.get("MONGODB_URL") and not WIRE_PYTHON.exists():
        pytest.skip("needs a server it may kill: install the wire server (tools/mongo/install.sh)")
    server = start_wire_server()
    port = server.port
    db: MongoDatabase | None = None
    try:
        db = await MongoDatabase.connect(
            wire_url(port), "trellis_outage", server_selection_timeout_ms=500, connect_timeout_ms=500
        )
        uow = db.unit_of_work()
        await uow.projects.add(project())
        await uow.tasks.add(task(1))

        server.kill()

        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: uow.tasks.get("t1"),
            lambda: uow.tasks.list(TaskQuery("p1"), PageRequest()),
            lambda: uow.tasks.add(task(2)),
            lambda: uow.tasks.update(task(1), 1),
            lambda: uow.tasks.progress_totals("p1"),
            lambda: uow.users.get_by_email("user1@example.com"),
            lambda: db.ping() if db is not None else asyncio.sleep(0),
            _in_transaction(uow),
        ]
        for call in calls:
            started = time.monotonic()
            with pytest.raises(DependencyUnavailable) as caught:
                await call()
            assert caught.value.dependency == "mongodb"
            assert time.monotonic() - started < 5.0, "an outage must surface within the timeout"

        server = start_wire_server(port)  # MongoDB comes back on the same address (empty: in memory)
        await _eventually(lambda: uow.tasks.add(task(3)))
        assert (await uow.tasks.get("t3")) is not None
        await db.ping()
    finally:
        if db is not None:
            await db.close()
        server.stop()


def _in_transaction(uow: MongoUnitOfWork) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        async with uow.transaction():
            await uow.tasks.add(task(4))

    return call


async def _eventually(call: Callable[[], Awaitable[object]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            await call()
            return
        except DependencyUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
