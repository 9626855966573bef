"""CollectionRepository contract: ordered post ids stored as copies, conditional writes, lists per owner."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from domain.content import Collection
from domain.errors import NotFound, VersionConflict
from domain.paging import PageRequest, Sort
from domain.ports import CollectionQuery, UnitOfWork
from tests.contract.repositories.builders import EVERYTHING, Builders


def new_collection(build: Builders, owner_id: str = "owner-1", **overrides: Any) -> Collection:
    now = build.clock.now()
    build.clock.advance(timedelta(seconds=1))
    collection = Collection(
        id=build.new_id(),
        owner_id=owner_id,
        name="Site diary",
        description="What happened on site.",
        post_ids=["p3", "p1", "p2"],
        created_at=now,
        updated_at=now,
    )
    return dataclasses.replace(collection, **overrides)


async def test_a_collection_keeps_its_post_order_and_is_stored_as_a_copy(uow: UnitOfWork, build: Builders) -> None:
    collection = new_collection(build)
    await uow.collections.add(collection)
    collection.post_ids.append("p9")

    stored = await uow.collections.get(collection.id)
    assert stored is not None
    assert stored.post_ids == ["p3", "p1", "p2"]
    stored.post_ids.clear()
    again = await uow.collections.get(collection.id)
    assert again is not None
    assert again.post_ids == ["p3", "p1", "p2"]

    again.post_ids = ["p1", "p9"]
    saved = await uow.collections.update(again, 1)
    assert saved.version == 2
    assert await uow.collections.get(collection.id) == saved
    with pytest.raises(VersionConflict):
        await uow.collections.update(again, 1)
    with pytest.raises(NotFound):
        await uow.collections.update(new_collection(build), 1)
    assert await uow.collections.get("missing") is None


async def test_lists_are_per_owner_sorted_and_never_show_deleted_ones(uow: UnitOfWork, build: Builders) -> None:
    mine = [new_collection(build, "ann", name=name) for name in ("b", "a", "c")]
    for collection in [*mine, new_collection(build, "ben", name="a")]:
        await uow.collections.add(collection)
    doomed = mine[2]
    doomed.deleted_at = build.clock.now()
    await uow.collections.update(doomed, 1)

    found = await uow.collections.list(CollectionQuery(owner_id="ann"), PageRequest(size=1, sort=Sort("name")))
    assert [c.id for c in found.items] == [mine[1].id]
    assert found.total == 2
    everyone = await uow.collections.list(CollectionQuery(owner_id=None), EVERYTHING)
    assert everyone.total == 3
    assert await uow.collections.get(doomed.id) is None
