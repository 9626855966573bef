"""Transactions: all or nothing, read-your-writes, isolation from concurrent requests.

"Concurrent request" here is :class:`Outside`: a task started before the transaction, so it
never takes part in it. Orderings that would make a real database block (a plain write to a
record an open transaction has already written waits for that transaction) are avoided:
every conflict below is provoked by a write that happens before the loser writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from domain.board import Project, Task
from domain.errors import EmailTaken, NotFound, VersionConflict
from domain.identity import User
from domain.ports import ProjectQuery, TaskQuery, UnitOfWork
from tests.contract.repositories.builders import EVERYTHING, Builders, Outside


class Boom(Exception):
    """Raised by a test to abandon a transaction."""


async def stored(uow: UnitOfWork) -> tuple[list[User], list[Project], list[Task]]:
    """Everything visible in the current context (tasks of project p1)."""
    users = (await uow.users.list(EVERYTHING)).items
    projects = (await uow.projects.list(ProjectQuery(viewer_id=None), EVERYTHING)).items
    tasks = (await uow.tasks.list(TaskQuery("p1"), EVERYTHING)).items
    return users, projects, tasks


async def test_writes_in_a_transaction_all_commit_together(uow: UnitOfWork, build: Builders) -> None:
    project = build.project(build.new_id(), id="p1")
    await uow.projects.add(project)
    user, task = build.user(), build.task("p1", progress=30)

    async with uow.transaction():
        await uow.users.add(user)
        await uow.tasks.add(task)
        project.progress = 30.0
        saved = await uow.projects.update(project, 1)

    assert await uow.users.get(user.id) == user
    assert await uow.tasks.get(task.id) == task
    assert await uow.projects.get(project.id) == saved
    assert saved.version == 2
    assert await uow.tasks.progress_totals("p1") == (1, 30)


async def test_an_exception_discards_every_write_of_the_transaction(uow: UnitOfWork, build: Builders) -> None:
    project = build.project(id="p1", title="Before")
    kept_task = build.task("p1", progress=20)
    await uow.projects.add(project)
    await uow.tasks.add(kept_task)
    before = await stored(uow)
    user, task = build.user(email="new@example.com"), build.task("p1", progress=80)

    async def abandoned() -> None:
        async with uow.transaction():
            await uow.users.add(user)
            await uow.tasks.add(task)
            project.title = "After"
            await uow.projects.update(project, 1)
            kept_task.progress = 90
            await uow.tasks.update(kept_task, 1)
            raise Boom

    with pytest.raises(Boom):
        await abandoned()

    assert await stored(uow) == before
    assert await uow.users.get(user.id) is None
    assert await uow.users.get_by_email("new@example.com") is None
    assert await uow.tasks.get(task.id) is None
    assert await uow.tasks.progress_totals("p1") == (1, 20)
    # the rolled-back update left version 1 current, and the e-mail free
    project.title = "After, for real"
    assert (await uow.projects.update(project, 1)).version == 2
    await uow.users.add(build.user(email="new@example.com"))


async def test_a_soft_delete_of_a_projects_tasks_rolls_back_too(uow: UnitOfWork, build: Builders) -> None:
    tasks = [build.task("p1", progress=50), build.task("p1", progress=70)]
    for task in tasks:
        await uow.tasks.add(task)

    async def abandoned() -> None:
        async with uow.transaction():
            assert await uow.tasks.soft_delete_for_project("p1", build.clock.now()) == 2
            raise Boom

    with pytest.raises(Boom):
        await abandoned()

    assert await uow.tasks.progress_totals("p1") == (2, 120)
    assert [await uow.tasks.get(task.id) for task in tasks] == tasks


async def test_reads_inside_a_transaction_see_its_own_writes(uow: UnitOfWork, build: Builders) -> None:
    identity = build.identity(subject="inside")
    user = build.user(email="Inside@Example.com", identities=(identity,))
    project = build.project(id="p1", title="Staged garden")
    tasks = [build.task("p1", progress=40, tag="red"), build.task("p1", progress=60)]

    async with uow.transaction():
        await uow.users.add(user)
        await uow.projects.add(project)
        for task in tasks:
            await uow.tasks.add(task)

        assert await uow.users.get(user.id) == user
        assert await uow.users.get_by_email("inside@example.com") == user
        assert await uow.users.get_by_identity(identity.issuer, identity.subject) == user
        assert (await uow.users.list(EVERYTHING)).total == 1
        assert await uow.projects.get(project.id) == project
        found = await uow.projects.list(ProjectQuery(viewer_id=None, q="garden"), EVERYTHING)
        assert [p.id for p in found.items] == [project.id]
        assert await uow.tasks.progress_totals("p1") == (2, 100)
        red = await uow.tasks.list(TaskQuery("p1", tag="red"), EVERYTHING)
        assert [t.id for t in red.items] == [tasks[0].id]

        project.title = "Renamed in the transaction"
        renamed = await uow.projects.update(project, 1)
        assert await uow.projects.get(project.id) == renamed
        assert (await uow.projects.update(renamed, 2)).version == 3
        with pytest.raises(VersionConflict):
            await uow.projects.update(renamed, 1)

        with pytest.raises(EmailTaken):
            await uow.users.add(build.user(email="INSIDE@example.com"))

        assert await uow.tasks.soft_delete_for_project("p1", build.clock.now()) == 2
        assert await uow.tasks.progress_totals("p1") == (0, 0)
        assert await uow.tasks.get(tasks[0].id) is None
        with pytest.raises(NotFound):
            await uow.tasks.update(tasks[1], 1)

    assert (await uow.projects.get(project.id)).version == 3  # type: ignore[union-attr]
    assert await uow.tasks.progress_totals("p1") == (0, 0)
    assert await uow.users.get_by_email("inside@example.com") == user


async def test_a_concurrent_reader_does_not_see_uncommitted_writes(
    uow: UnitOfWork, build: Builders, outside: Outside
) -> None:
    project = build.project(id="p1", title="Committed title")
    await uow.projects.add(project)
    await uow.tasks.add(build.task("p1", progress=10))
    before = await stored(uow)
    user = build.user(email="staged@example.com")

    async with uow.transaction():
        await uow.users.add(user)
        await uow.tasks.add(build.task("p1", progress=90))
        project.title = "Staged title"
        await uow.projects.update(project, 1)

        assert await outside.run(lambda: stored(uow)) == before
        assert await outside.run(lambda: uow.users.get(user.id)) is None
        assert await outside.run(lambda: uow.users.get_by_email("staged@example.com")) is None
        assert await outside.run(lambda: uow.tasks.progress_totals("p1")) == (1, 10)
        outside_view = await outside.run(lambda: uow.projects.get("p1"))
        assert outside_view is not None
        assert (outside_view.title, outside_view.version) == ("Committed title", 1)

    after = await outside.run(lambda: uow.projects.get("p1"))
    assert after is not None
    assert (after.title, after.version) == ("Staged title", 2)
    assert await outside.run(lambda: uow.tasks.progress_totals("p1")) == (2, 100)
    assert await outside.run(lambda: uow.users.get_by_email("staged@example.com")) == user


async def test_a_write_committed_by_someone_else_after_the_read_makes_the_transaction_fail(
    uow: UnitOfWork, build: Builders, outside: Outside
) -> None:
    project = build.project(id="p1", title="Original")
    await uow.projects.add(project)
    added = build.task("p1")

    async def rename() -> Project:
        theirs = await uow.projects.get("p1")
        assert theirs is not None
        theirs.title = "Theirs"
        return await uow.projects.update(theirs, theirs.version)

    async def read_then_write_after_them() -> None:
        async with uow.transaction():
            mine = await uow.projects.get("p1")
            assert mine is not None
            await uow.tasks.add(added)
            await outside.run(rename)
            mine.title = "Mine"
            await uow.projects.update(mine, mine.version)

    with pytest.raises(VersionConflict):
        await read_then_write_after_them()

    final = await uow.projects.get("p1")
    assert final is not None
    assert (final.title, final.version) == ("Theirs", 2)
    assert await uow.tasks.get(added.id) is None


async def test_of_two_overlapping_transactions_the_first_to_commit_wins(uow: UnitOfWork, build: Builders) -> None:
    """Both read version 1, both write, the first commits; the second fails with all its writes.

    A store may notice the clash when the second writes (MongoDB: a write conflict) or when it
    commits (the memory store re-checks versions); either way the second sees
    ``VersionConflict`` and nothing it wrote survives.
    """
    project = build.project(id="p1", title="Original")
    await uow.projects.add(project)
    loser_task = build.task("p1", title="written by the loser")
    first_read, second_read = asyncio.Event(), asyncio.Event()
    first_written, second_written, first_committed = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def first() -> Project:
        async with uow.transaction():
            mine = await uow.projects.get("p1")
            assert mine is not None
            first_read.set()
            await second_read.wait()
            mine.title = "First"
            saved = await uow.projects.update(mine, mine.version)
            first_written.set()
            await second_written.wait()
        first_committed.set()
        return saved

    async def second() -> Project:
        async with uow.transaction():
            mine = await uow.projects.get("p1")
            assert mine is not None
            second_read.set()
            await first_written.wait()
            await uow.tasks.add(loser_task)
            mine.title = "Second"
            try:
                return await uow.projects.update(mine, mine.version)
            finally:
                second_written.set()
                await first_committed.wait()  # commit (or fail) only after the first committed

    outcomes: Sequence[Any] = await asyncio.gather(first(), second(), return_exceptions=True)

    assert isinstance(outcomes[0], Project)
    assert outcomes[0].title == "First"
    assert isinstance(outcomes[1], VersionConflict)
    assert await uow.projects.get("p1") == outcomes[0]
    assert await uow.tasks.get(loser_task.id) is None


async def test_two_transactions_claiming_one_email_cannot_both_commit(uow: UnitOfWork, build: Builders) -> None:
    ada, impostor = build.user(email="ada@example.com"), build.user(email="ADA@example.com")
    both_added = asyncio.Barrier(2)

    async def sign_up(user: User) -> User:
        async with uow.transaction():
            try:
                await uow.users.add(user)
            finally:
                await both_added.wait()
        return user

    outcomes = await asyncio.gather(sign_up(ada), sign_up(impostor), return_exceptions=True)

    winners = [outcome for outcome in outcomes if isinstance(outcome, User)]
    losers = [outcome for outcome in outcomes if not isinstance(outcome, User)]
    assert len(winners) == 1
    # A store may notice the clash at the loser's insert (a unique index: EmailTaken, or a
    # write conflict) or at its commit; the contract is that exactly one account exists.
    assert len(losers) == 1
    assert isinstance(losers[0], (EmailTaken, VersionConflict))
    assert await uow.users.get_by_email("ada@example.com") == winners[0]
    assert (await uow.users.list(EVERYTHING)).total == 1


async def test_a_nested_transaction_joins_the_outer_one(uow: UnitOfWork, build: Builders, outside: Outside) -> None:
    first, second = build.project(), build.project()

    async def abandoned() -> None:
        async with uow.transaction():
            await uow.projects.add(first)
            async with uow.transaction():
                await uow.projects.add(second)
            # the inner block has exited, yet nothing is committed: it joined the outer one
            assert await outside.run(lambda: uow.projects.get(second.id)) is None
            assert await uow.projects.get(second.id) == second
            raise Boom

    with pytest.raises(Boom):
        await abandoned()

    assert await uow.projects.get(first.id) is None
    assert await uow.projects.get(second.id) is None

    async with uow.transaction():
        async with uow.transaction():
            await uow.projects.add(second)
        await uow.projects.add(first)
    assert await uow.projects.get(first.id) == first
    assert await uow.projects.get(second.id) == second


async def test_outside_a_transaction_each_write_stands_alone(uow: UnitOfWork, build: Builders) -> None:
    project = build.project()
    await uow.projects.add(project)
    await uow.users.add(build.user(email="ada@example.com"))

    with pytest.raises(EmailTaken):
        await uow.users.add(build.user(email="ada@example.com"))

    assert await uow.projects.get(project.id) == project


async def test_transactions_can_follow_one_another(uow: UnitOfWork, build: Builders) -> None:
    project = build.project()
    await uow.projects.add(project)

    for expected in range(1, 4):
        async with uow.transaction():
            current = await uow.projects.get(project.id)
            assert current is not None
            assert current.version == expected
            current.title = f"Round {expected}"
            await uow.projects.update(current, expected)

    final = await uow.projects.get(project.id)
    assert final is not None
    assert (final.title, final.version) == ("Round 3", 4)
