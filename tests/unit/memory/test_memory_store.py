"""What only the memory store promises, beyond the shared repository contract.

The contract suite (tests/contract/repositories) allows a store to detect a clash when the
loser writes or when it commits; the memory store always stages and detects at commit. These
tests pin that down, plus its guards for misuse.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from adapters.memory.unit_of_work import MemoryUnitOfWork
from domain.board import Project
from domain.errors import Conflict, EmailTaken, VersionConflict
from domain.identity import Role, User
from domain.paging import PageRequest, Sort
from domain.ports import ProjectQuery

T = TypeVar("T")

AT = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def user(user_id: str, email: str) -> User:
    return User(
        id=user_id, email=email, display_name=user_id, roles=frozenset({Role.MEMBER}), created_at=AT, updated_at=AT
    )


async def outside(call: Coroutine[Any, Any, T]) -> T:
    """Run in a task with a fresh context: another request, outside any open transaction."""
    return await asyncio.create_task(call, context=contextvars.Context())


def project(project_id: str, title: str = "Garden") -> Project:
    return Project(id=project_id, owner_id="owner", title=title, created_at=AT, updated_at=AT)


async def test_a_version_clash_is_detected_at_commit() -> None:
    uow = MemoryUnitOfWork()
    await uow.projects.add(project("p1"))
    transaction = uow.transaction()

    await transaction.__aenter__()
    staged = await uow.projects.update(project("p1", "Mine"), 1)  # staged against version 1
    assert staged.version == 2
    await outside(uow.projects.update(project("p1", "Theirs"), 1))  # applied at once

    with pytest.raises(VersionConflict):
        await transaction.__aexit__(None, None, None)

    stored = await uow.projects.get("p1")
    assert stored is not None
    assert (stored.title, stored.version) == ("Theirs", 2)


async def test_an_email_clash_is_detected_at_commit_and_nothing_of_the_loser_is_applied() -> None:
    uow = MemoryUnitOfWork()
    transaction = uow.transaction()
    await transaction.__aenter__()
    await uow.users.add(user("u-mine", "ada@example.com"))
    await uow.projects.add(project("p-mine"))
    await outside(uow.users.add(user("u-theirs", "Ada@Example.com")))

    with pytest.raises(EmailTaken):
        await transaction.__aexit__(None, None, None)

    found = await uow.users.get_by_email("ada@example.com")
    assert found is not None
    assert found.id == "u-theirs"
    assert await uow.projects.get("p-mine") is None


async def test_tasks_started_inside_a_transaction_take_part_in_it() -> None:
    uow = MemoryUnitOfWork()

    async with uow.transaction():
        await asyncio.gather(uow.projects.add(project("a")), uow.projects.add(project("b")))
        seen_inside = await asyncio.create_task(uow.projects.list(ProjectQuery(None), PageRequest()))
        assert seen_inside.total == 2

    assert (await uow.projects.list(ProjectQuery(None), PageRequest())).total == 2


async def test_transactions_of_two_stores_are_independent() -> None:
    left, right = MemoryUnitOfWork(), MemoryUnitOfWork()

    async def abandoned() -> None:
        async with left.transaction():
            await left.projects.add(project("l"))
            async with right.transaction():  # a different store: its own transaction
                await right.projects.add(project("r"))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await abandoned()

    assert await left.projects.get("l") is None
    assert await right.projects.get("r") is not None


async def test_adding_an_existing_id_is_a_conflict() -> None:
    uow = MemoryUnitOfWork()
    await uow.projects.add(project("p1"))

    with pytest.raises(Conflict):
        await uow.projects.add(project("p1", "Another"))
    async with uow.transaction():
        with pytest.raises(Conflict):
            await uow.projects.add(project("p1", "Another"))


async def test_sorting_by_a_field_outside_the_whitelist_is_refused() -> None:
    uow = MemoryUnitOfWork()

    with pytest.raises(ValueError, match="cannot sort by 'owner_id'"):
        await uow.projects.list(ProjectQuery(None), PageRequest(sort=Sort("owner_id")))


async def test_a_closed_transaction_no_longer_captures_writes() -> None:
    uow = MemoryUnitOfWork()
    release = asyncio.Event()

    async def late_writer() -> None:
        await release.wait()
        await uow.projects.add(project("late"))  # its context still names the closed transaction

    async with uow.transaction():
        straggler = asyncio.create_task(late_writer())
    release.set()
    await straggler

    assert await uow.projects.get("late") is not None
