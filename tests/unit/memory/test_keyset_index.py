"""The memory adapter's sorted indexes stay true through every kind of committed write.

``list_keyset`` walks a sorted index that the table updates on each committed change (insert,
replace, soft delete, purge, a transaction's commit). Random sequences of those writes, then
a walk of every sort both ways, must give the contract's order (the comparator of the
contract suite, not the index's code); so must page/size lists, which slice the same index
(whole project and by tag, every page). A transaction that has written reads its own writes.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.memory.clock import FixedClock
from adapters.memory.unit_of_work import MemoryUnitOfWork
from domain.board import Task
from domain.paging import TASK_SORT_FIELDS, Keyset, KeysetRequest, PageRequest, Sort
from domain.ports import TaskQuery
from tests.contract.repositories.builders import START, Builders
from tests.contract.repositories.test_listing import every_sort, expected_order

PROJECTS = ["p1", "p2"]
Operation = tuple[str, int, int]


def vary(rng: random.Random, task: Task) -> Task:
    return dataclasses.replace(
        task,
        title=rng.choice(["alpha", "beta", "gamma"]),
        progress=rng.choice([0, 40, 100]),
        finish_date=rng.choice([None, date(2025, 4, 1), date(2025, 5, 1)]),
        tag=rng.choice([None, "blue", "red"]),
        updated_at=START + timedelta(minutes=rng.choice([0, 1, 2])),
    )


async def walk(uow: MemoryUnitOfWork, project: str, sort: Sort, size: int = 3) -> list[str]:
    seen: list[str] = []
    after: Keyset | None = None
    while True:
        found = await uow.tasks.list_keyset(TaskQuery(project), KeysetRequest(size=size, sort=sort, after=after))
        seen += [t.id for t in found.items]
        if found.next is None:
            return seen
        after = found.next


async def pages(uow: MemoryUnitOfWork, project: str, sort: Sort, tag: str | None = None, size: int = 3) -> list[str]:
    """Every page/size page in turn (one past the end included); each reports the same total."""
    seen: list[str] = []
    totals: set[int] = set()
    number = 1
    while True:
        found = await uow.tasks.list(TaskQuery(project, tag=tag), PageRequest(page=number, size=size, sort=sort))
        totals.add(found.total)
        seen += [t.id for t in found.items]
        if not found.items:
            assert totals == {len(seen)}
            return seen
        number += 1


async def live_tasks(uow: MemoryUnitOfWork, project: str) -> list[Task]:
    return [t for t in uow.store.tasks.live() if t.project_id == project]


operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "update", "delete", "purge", "transaction", "rolled back"]),
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=0, max_value=1),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(ops=operations, seed=st.integers(min_value=0, max_value=2**16))
async def test_every_sort_agrees_with_the_contract_after_any_writes(ops: list[Operation], seed: int) -> None:
    uow = MemoryUnitOfWork()
    build = Builders(FixedClock(START), seed=seed)
    rng = random.Random(seed)
    for project in PROJECTS:  # indexes built early, so every later write goes through them
        for sort in every_sort(TASK_SORT_FIELDS):
            assert await walk(uow, project, sort) == []

    for name, pick, project_number in ops:
        project = PROJECTS[project_number]
        live = await live_tasks(uow, project)
        chosen = live[pick % len(live)] if live else None
        if name == "add" or chosen is None:
            await uow.tasks.add(vary(rng, build.task(project)))
        elif name == "update":
            await uow.tasks.update(vary(rng, chosen), chosen.version)
        elif name == "delete":
            await uow.tasks.update(dataclasses.replace(chosen, deleted_at=START), chosen.version)
        elif name == "purge":
            await uow.tasks.purge_deleted(START + timedelta(days=1))
        else:
            with pytest.raises(RuntimeError) if name == "rolled back" else _nothing():
                async with uow.transaction():
                    await uow.tasks.add(vary(rng, build.task(project)))
                    await uow.tasks.update(vary(rng, chosen), chosen.version)
                    if name == "rolled back":
                        raise RuntimeError("discard")

    for project in PROJECTS:
        expected_live = await live_tasks(uow, project)
        for sort in every_sort(TASK_SORT_FIELDS):
            assert await walk(uow, project, sort) == expected_order(expected_live, sort), sort.render()
            assert await pages(uow, project, sort) == expected_order(expected_live, sort), sort.render()
            for tag in ("red", None):
                tagged = [t for t in expected_live if t.tag == tag] if tag else expected_live
                assert await pages(uow, project, sort, tag) == expected_order(tagged, sort), sort.render()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


async def test_a_transaction_that_wrote_reads_its_own_writes_in_keyset_pages() -> None:
    uow = MemoryUnitOfWork()
    build = Builders(FixedClock(START))
    first, second = build.task("p1", title="b"), build.task("p1", title="d")
    for task in (first, second):
        await uow.tasks.add(task)
    assert await walk(uow, "p1", Sort("title")) == [first.id, second.id]

    async with uow.transaction():
        added = build.task("p1", title="a")
        await uow.tasks.add(added)
        await uow.tasks.update(dataclasses.replace(second, title="c", deleted_at=None), second.version)
        inside = await walk(uow, "p1", Sort("title"), size=1)
        assert inside == [added.id, first.id, second.id]
        assert await pages(uow, "p1", Sort("title"), size=1) == inside
        assert await pages(uow, "p1", Sort("title", descending=True), size=2) == inside[::-1]
    assert await walk(uow, "p1", Sort("title", descending=True)) == [second.id, first.id, added.id]
