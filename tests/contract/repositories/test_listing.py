"""Sorting and paging: every whitelisted field both ways, None placement, id tie-break, pages.

The expected order is computed here from the contract's words (a comparator, deliberately
unlike any adapter's implementation): None before every value ascending and after every
value descending; equal values ordered by id ascending whichever the direction.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.board import Project, Task, Visibility
from domain.identity import User
from domain.paging import PROJECT_SORT_FIELDS, TASK_SORT_FIELDS, USER_SORT_FIELDS, PageRequest, Sort
from domain.ports import ProjectQuery, TaskQuery, UnitOfWork
from tests.contract.repositories.builders import START, Builders, everything

E = TypeVar("E", User, Project, Task)

# The examples only read what a fixture stored once per test, so sharing that fixture across
# examples is sound; no deadline, because the MongoDB run of this suite is slow per query.
READ_ONLY_EXAMPLES = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def expected_order(records: Sequence[E], sort: Sort) -> list[str]:
    def compare(left: E, right: E) -> int:
        a, b = getattr(left, sort.field), getattr(right, sort.field)
        if a != b:
            if a is None:
                by_value = -1
            elif b is None:
                by_value = 1
            else:
                by_value = -1 if a < b else 1
            return -by_value if sort.descending else by_value
        return -1 if left.id < right.id else (1 if left.id > right.id else 0)

    return [record.id for record in sorted(records, key=functools.cmp_to_key(compare))]


def every_sort(fields: frozenset[str]) -> list[Sort]:
    return [Sort(field, descending) for field in sorted(fields) for descending in (False, True)]


# --- seeded data: few values per field, so ties and Nones are everywhere ----------------------


@pytest.fixture
async def tasks(uow: UnitOfWork, build: Builders) -> list[Task]:
    """Live tasks of project p1 (plus noise that must never show: another project, a deleted task)."""
    rng = random.Random(7)
    live: list[Task] = []
    for _ in range(16):
        created = START + timedelta(minutes=rng.choice([0, 1, 2]))
        task = build.task(
            "p1",
            title=rng.choice(["alpha", "beta", "gamma"]),
            progress=rng.choice([0, 40, 100]),
            finish_date=rng.choice([None, date(2025, 4, 1), date(2025, 5, 1)]),
            tag=rng.choice([None, "blue", "red"]),
            created_at=created,
            updated_at=created + timedelta(seconds=rng.choice([0, 30])),
        )
        await uow.tasks.add(task)
        live.append(task)
    await uow.tasks.add(build.task("p2", title="alpha"))
    deleted = build.task("p1", title="alpha", tag=None, finish_date=None)
    await uow.tasks.add(deleted)
    deleted.deleted_at = START
    await uow.tasks.update(deleted, 1)
    return live


@pytest.fixture
async def projects(uow: UnitOfWork, build: Builders) -> list[Project]:
    rng = random.Random(11)
    made: list[Project] = []
    for _ in range(12):
        created = START + timedelta(minutes=rng.choice([0, 1]))
        project = build.project(
            rng.choice(["ada", "grace"]),
            title=rng.choice(["Garden", "garden shed", "Roof repair"]),
            visibility=rng.choice([Visibility.PERSONAL, Visibility.PUBLIC]),
            finish_date=rng.choice([None, date(2025, 9, 1), date(2026, 1, 1)]),
            progress=rng.choice([0.0, 33.3, 66.7, 100.0]),
            created_at=created,
            updated_at=created + timedelta(seconds=rng.choice([0, 5])),
        )
        await uow.projects.add(project)
        made.append(project)
    return made


@pytest.fixture
async def users(uow: UnitOfWork, build: Builders) -> list[User]:
    rng = random.Random(13)
    made: list[User] = []
    for number in range(8):
        created = START + timedelta(minutes=rng.choice([0, 1]))
        user = build.user(
            email=f"{rng.choice(['ada', 'bob', 'cy'])}{number}@example.com",
            display_name=rng.choice(["Ada", "Bob", "Cy"]),
            created_at=created,
            updated_at=created,
        )
        await uow.users.add(user)
        made.append(user)
    return made


# --- every field, both directions -------------------------------------------------------------


async def test_tasks_sort_by_every_whitelisted_field_both_ways(uow: UnitOfWork, tasks: list[Task]) -> None:
    for sort in every_sort(TASK_SORT_FIELDS):
        page = await uow.tasks.list(TaskQuery(project_id="p1"), PageRequest(1, 100, sort))
        assert [task.id for task in page.items] == expected_order(tasks, sort), sort.render()
        assert page.total == len(tasks)


async def test_projects_sort_by_every_whitelisted_field_both_ways(uow: UnitOfWork, projects: list[Project]) -> None:
    for sort in every_sort(PROJECT_SORT_FIELDS):
        page = await uow.projects.list(ProjectQuery(viewer_id=None), PageRequest(1, 100, sort))
        assert [project.id for project in page.items] == expected_order(projects, sort), sort.render()


async def test_users_sort_by_every_whitelisted_field_both_ways(uow: UnitOfWork, users: list[User]) -> None:
    for sort in every_sort(USER_SORT_FIELDS):
        page = await uow.users.list(PageRequest(1, 100, sort))
        assert [user.id for user in page.items] == expected_order(users, sort), sort.render()


async def test_none_sorts_first_ascending_and_last_descending(uow: UnitOfWork, build: Builders) -> None:
    early, late = date(2025, 1, 1), date(2025, 12, 31)
    for finish in (late, None, early, None):
        await uow.tasks.add(build.task("p1", finish_date=finish, tag=None if finish is None else "dated"))

    ascending = await uow.tasks.list(TaskQuery("p1"), everything("finish_date"))
    descending = await uow.tasks.list(TaskQuery("p1"), everything("finish_date", descending=True))
    by_tag = await uow.tasks.list(TaskQuery("p1"), everything("tag", descending=True))

    assert [task.finish_date for task in ascending.items] == [None, None, early, late]
    assert [task.finish_date for task in descending.items] == [late, early, None, None]
    assert [task.tag for task in by_tag.items] == ["dated", "dated", None, None]


async def test_ties_are_broken_by_id_ascending_in_both_directions(uow: UnitOfWork, build: Builders) -> None:
    same = [build.task("p1", title="same", created_at=START, updated_at=START) for _ in range(6)]
    for task in same:
        await uow.tasks.add(task)
    by_id = sorted(task.id for task in same)

    for sort in every_sort(frozenset({"title", "created_at"})):
        page = await uow.tasks.list(TaskQuery("p1"), PageRequest(1, 100, sort))
        assert [task.id for task in page.items] == by_id, sort.render()


# --- paging ------------------------------------------------------------------------------------


async def test_pages_have_the_right_items_and_the_total_of_all_matches(uow: UnitOfWork, build: Builders) -> None:
    made = [build.task("p1", title=f"task {number}") for number in range(7)]  # created_at increases
    for task in reversed(made):
        await uow.tasks.add(task)
    ids = [task.id for task in made]

    async def page(number: int, size: int = 3) -> tuple[list[str], int, int, int]:
        got = await uow.tasks.list(TaskQuery("p1"), PageRequest(number, size, Sort("created_at")))
        return [task.id for task in got.items], got.total, got.page, got.size

    assert await page(1) == (ids[0:3], 7, 1, 3)
    assert await page(2) == (ids[3:6], 7, 2, 3)
    assert await page(3) == (ids[6:7], 7, 3, 3)  # the last page is partial
    assert await page(4) == ([], 7, 4, 3)  # past the end: empty, same total
    assert await page(1, size=7) == (ids, 7, 1, 7)
    assert await page(2, size=7) == ([], 7, 2, 7)
    last = await uow.tasks.list(TaskQuery("p1"), PageRequest(1, 100, Sort("created_at", descending=True)))
    assert [task.id for task in last.items] == ids[::-1]
    assert last.pages == 1


async def test_an_empty_list_has_no_items_and_total_zero(uow: UnitOfWork) -> None:
    page = await uow.tasks.list(TaskQuery("p1"), PageRequest(1, 20, Sort("created_at")))

    assert page.items == []
    assert page.total == 0
    assert page.pages == 0


@READ_ONLY_EXAMPLES
@given(
    sort=st.builds(Sort, st.sampled_from(sorted(TASK_SORT_FIELDS)), st.booleans()),
    size=st.integers(min_value=1, max_value=7),
    tag=st.sampled_from([None, "red", "blue", "green"]),
)
async def test_walking_all_task_pages_yields_the_sorted_matches_once_each(
    uow: UnitOfWork, tasks: list[Task], sort: Sort, size: int, tag: str | None
) -> None:
    matches = [task for task in tasks if tag is None or task.tag == tag]
    seen: list[str] = []
    number = 1
    while True:
        page = await uow.tasks.list(TaskQuery("p1", tag=tag), PageRequest(number, size, sort))
        assert page.total == len(matches)
        assert len(page.items) <= size
        if not page.items:
            break
        seen += [task.id for task in page.items]
        number += 1

    assert seen == expected_order(matches, sort)
    assert number - 1 == page.pages


def visible(project: Project, query: ProjectQuery) -> bool:
    """The filters as ProjectQuery's docstring states them."""
    return (
        (query.viewer_id is None or project.owner_id == query.viewer_id or project.visibility == Visibility.PUBLIC)
        and (query.visibility is None or project.visibility == query.visibility)
        and (query.owner_id is None or project.owner_id == query.owner_id)
        and (query.q is None or query.q.lower() in project.title.lower())
    )


@READ_ONLY_EXAMPLES
@given(
    query=st.builds(
        ProjectQuery,
        viewer_id=st.sampled_from([None, "ada", "grace", "stranger"]),
        visibility=st.sampled_from([None, Visibility.PERSONAL, Visibility.PUBLIC]),
        q=st.sampled_from([None, "", "garden", "GARDEN", "n s", "repair", "x"]),
        owner_id=st.sampled_from([None, "ada", "grace"]),
    ),
    sort=st.builds(Sort, st.sampled_from(sorted(PROJECT_SORT_FIELDS)), st.booleans()),
    size=st.integers(min_value=1, max_value=5),
)
async def test_project_filters_sorting_and_paging_agree_with_the_contract(
    uow: UnitOfWork, projects: list[Project], query: ProjectQuery, sort: Sort, size: int
) -> None:
    matches = [project for project in projects if visible(project, query)]
    pages = (len(matches) + size - 1) // size
    seen: list[str] = []
    for number in range(1, pages + 2):  # one page past the end, which must be empty
        page = await uow.projects.list(query, PageRequest(number, size, sort))
        assert page.total == len(matches)
        seen += [project.id for project in page.items]

    assert seen == expected_order(matches, sort)
