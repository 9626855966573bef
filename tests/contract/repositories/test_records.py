"""What every repository does alike: copies, conditional updates, soft deletes, races."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from domain.errors import NotFound, VersionConflict
from domain.ports import ProjectQuery, TaskQuery, UnitOfWork
from tests.contract.repositories.builders import EVERYTHING, Builders

TASKS_PROJECT = "project-of-the-tasks"


@dataclass(frozen=True)
class Kind:
    """How to reach one repository generically: its name, a builder, a field to change."""

    name: str
    repository: Callable[[UnitOfWork], Any]
    make: Callable[[Builders], Any]
    field: str

    async def list_all(self, uow: UnitOfWork) -> Any:
        if self.name == "user":
            return await uow.users.list(EVERYTHING)
        if self.name == "project":
            return await uow.projects.list(ProjectQuery(viewer_id=None), EVERYTHING)
        return await uow.tasks.list(TaskQuery(project_id=TASKS_PROJECT), EVERYTHING)


KINDS = [
    Kind("user", lambda uow: uow.users, lambda build: build.user(), "display_name"),
    Kind("project", lambda uow: uow.projects, lambda build: build.project(), "title"),
    Kind("task", lambda uow: uow.tasks, lambda build: build.task(TASKS_PROJECT), "title"),
]


@pytest.fixture(params=KINDS, ids=[kind.name for kind in KINDS])
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param  # type: ignore[no-any-return]


async def test_add_then_get_returns_an_equal_copy(uow: UnitOfWork, build: Builders, kind: Kind) -> None:
    entity = kind.make(build)
    await kind.repository(uow).add(entity)

    found = await kind.repository(uow).get(entity.id)

    assert found == entity
    assert found is not entity


async def test_get_of_an_unknown_id_is_none(uow: UnitOfWork, build: Builders, kind: Kind) -> None:
    await kind.repository(uow).add(kind.make(build))

    assert await kind.repository(uow).get("no-such-id") is None


async def test_mutating_the_added_object_changes_nothing_stored(uow: UnitOfWork, build: Builders, kind: Kind) -> None:
    entity = kind.make(build)
    await kind.repository(uow).add(entity)

    setattr(entity, kind.field, "changed after add")

    found = await kind.repository(uow).get(entity.id)
    assert getattr(found, kind.field) != "changed after add"


async def test_mutating_returned_objects_changes_nothing_stored(uow: UnitOfWork, build: Builders, kind: Kind) -> None:
    entity = kind.make(build)
    original = getattr(entity, kind.field)
    await kind.repository(uow).add(entity)

    from_get = await kind.repository(uow).get(entity.id)
    setattr(from_get, kind.field, "changed via get")
    from_list = (await kind.list_all(uow)).items[0]
    setattr(from_list, kind.field, "changed via list")

    found = await kind.repository(uow).get(entity.id)
    assert getattr(found, kind.field) == original
    assert found.version == 1


async def test_update_stores_the_entity_with_the_next_version(uow: UnitOfWork, build: Builders, kind: Kind) -> None:
    entity = kind.make(build)
    await kind.repository(uow).add(entity)
    current = await kind.repository(uow).get(entity.id)
    setattr(current, kind.field, "renamed")

    saved = await kind.repository(uow).update(current, 1)

    assert saved.version == 2
    assert getattr(saved, kind.field) == "renamed"
    assert await kind.repository(uow).get(entity.id) == saved
    saved_again = await kind.repository(uow).update(saved, 2)
    assert saved_again.version == 3


async def test_update_versions_come_from_expected_version_not_the_argument(
    uow: UnitOfWork, build: Builders, kind: Kind
) -> None:
    entity = kind.make(build)
    await kind.repository(uow).add(entity)
    entity.version = 41  # whatever the caller left in the field, the store decides

    saved = await kind.repository(uow).update(entity, 1)

    assert saved.version == 2
    assert (await kind.repository(uow).get(entity.id)).version == 2


async def test_update_returns_a_copy_and_keeps_no_reference_to_its_argument(
    uow: UnitOfWork, build: Builders, kind: Kind
) -> None:
    entity = kind.make(build)
    await kind.repository(uow).add(entity)
    setattr(entity, kind.field, "stored value")

    saved = await kind.repository(uow).update(entity, 1)
    setattr(entity, kind.field, "changed argument")
    setattr(saved, kind.field, "changed result")

    found = await kind.repository(uow).get(entity.id)
    assert getattr(found, kind.field) == "stored value"
    assert found.version == 2


async def test_a_stale_update_raises_version_conflict_and_changes_nothing(
    uow: UnitOfWork, build: Builders, kind: Kind
) -> None:
    entity = kind.make(build)
    await kind.repository(uow).add(entity)
    first = await kind.repository(uow).get(entity.id)
    setattr(first, kind.field, "first writer")
    winner = await kind.repository(uow).update(first, 1)

    setattr(entity, kind.field, "second writer")
    with pytest.raises(VersionConflict):
        await kind.repository(uow).update(entity, 1)
    with pytest.raises(VersionConflict):
        await kind.repository(uow).update(entity, 3)  # from the future: stale all the same

    assert await kind.repository(uow).get(entity.id) == winner


async def test_updating_a_missing_record_raises_not_found(uow: UnitOfWork, build: Builders, kind: Kind) -> None:
    with pytest.raises(NotFound):
        await kind.repository(uow).update(kind.make(build), 1)

    assert (await kind.list_all(uow)).total == 0


async def test_soft_deleted_records_are_invisible_and_cannot_be_updated(
    uow: UnitOfWork, build: Builders, kind: Kind
) -> None:
    kept, doomed = kind.make(build), kind.make(build)
    await kind.repository(uow).add(kept)
    await kind.repository(uow).add(doomed)
    doomed.deleted_at = build.clock.now() + timedelta(minutes=5)

    deleted = await kind.repository(uow).update(doomed, 1)

    assert deleted.version == 2
    assert await kind.repository(uow).get(doomed.id) is None
    listed = await kind.list_all(uow)
    assert [item.id for item in listed.items] == [kept.id]
    assert listed.total == 1
    with pytest.raises(NotFound):
        await kind.repository(uow).update(deleted, 2)
    with pytest.raises(NotFound):
        await kind.repository(uow).update(doomed, 1)


async def test_two_concurrent_writers_with_one_version_exactly_one_wins(
    uow: UnitOfWork, build: Builders, kind: Kind
) -> None:
    entity = kind.make(build)
    await kind.repository(uow).add(entity)
    first, second = await kind.repository(uow).get(entity.id), await kind.repository(uow).get(entity.id)
    setattr(first, kind.field, "first")
    setattr(second, kind.field, "second")

    outcomes = await asyncio.gather(
        kind.repository(uow).update(first, 1), kind.repository(uow).update(second, 1), return_exceptions=True
    )

    winners = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    losers = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert isinstance(losers[0], VersionConflict)
    assert winners[0].version == 2
    assert await kind.repository(uow).get(entity.id) == winners[0]


async def test_two_concurrent_transactions_with_one_version_exactly_one_wins(
    uow: UnitOfWork, build: Builders, kind: Kind
) -> None:
    entity = kind.make(build)
    await kind.repository(uow).add(entity)
    both_read = asyncio.Barrier(2)

    async def writer(value: str) -> Any:
        async with uow.transaction():
            current = await kind.repository(uow).get(entity.id)
            await both_read.wait()  # both have read version 1 before either writes
            setattr(current, kind.field, value)
            return await kind.repository(uow).update(current, current.version)

    outcomes = await asyncio.gather(writer("first"), writer("second"), return_exceptions=True)

    winners = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    losers = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(winners) == 1
    assert [type(loser) for loser in losers] == [VersionConflict]
    assert await kind.repository(uow).get(entity.id) == winners[0]
