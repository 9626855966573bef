"""Keyset paging (``list_keyset``): the order of ``list``, from a position instead of an offset.

The expected order is the contract's comparator from ``test_listing`` (not any adapter's
code). Walking every page must give each match once, in order; a position stays valid when
its item is deleted, and items inserted while a client walks the list never shift a page:
every item that existed when the walk started is seen exactly once, in order.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.board import Project, Task, Visibility
from domain.content import POST_SORT_FIELDS, Post
from domain.paging import PROJECT_SORT_FIELDS, TASK_SORT_FIELDS, Keyset, KeysetRequest, Sort, follows
from domain.ports import PostQuery, ProjectQuery, TaskQuery, UnitOfWork
from tests.contract.repositories.builders import START, Builders
from tests.contract.repositories.test_listing import READ_ONLY_EXAMPLES, every_sort, expected_order, visible
from tests.contract.repositories.test_posts import new_post

# Each example works in a project of its own, so examples that write never see each other.
WRITING_EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

TITLES = ["alpha", "beta", "gamma"]
FINISH = [None, date(2025, 4, 1), date(2025, 5, 1)]
TAGS = [None, "blue", "red"]


def random_task(build: Builders, rng: random.Random, project_id: str, task_id: str | None = None) -> Task:
    created = START + timedelta(minutes=rng.choice([0, 1, 2]))
    task = build.task(
        project_id,
        title=rng.choice(TITLES),
        progress=rng.choice([0, 40, 100]),
        finish_date=rng.choice(FINISH),
        tag=rng.choice(TAGS),
        created_at=created,
        updated_at=created + timedelta(seconds=rng.choice([0, 30])),
    )
    return task if task_id is None else replace(task, id=task_id)


def fresh_id(rng: random.Random) -> str:
    """Random order (the prefix), never reused across examples (the suffix)."""
    return f"{rng.getrandbits(32):08x}{uuid.uuid4().hex[:16]}"


async def walk_tasks(uow: UnitOfWork, query: TaskQuery, sort: Sort, size: int) -> list[list[str]]:
    """Every page from the first to the one whose ``next`` is None."""
    pages: list[list[str]] = []
    after: Keyset | None = None
    while True:
        found = await uow.tasks.list_keyset(query, KeysetRequest(size=size, sort=sort, after=after))
        assert len(found.items) <= size
        pages.append([task.id for task in found.items])
        if found.next is None:
            return pages
        assert len(found.items) == size  # only the last page may be short
        assert found.next == Keyset(getattr(found.items[-1], sort.field), found.items[-1].id)
        after = found.next
        assert len(pages) < 1000, "the walk does not end"


@pytest.fixture
async def tasks(uow: UnitOfWork, build: Builders) -> list[Task]:
    rng = random.Random(7)
    live = [random_task(build, rng, "p1") for _ in range(16)]
    for task in live:
        await uow.tasks.add(task)
    await uow.tasks.add(build.task("p2", title="alpha"))  # another project: never listed
    deleted = build.task("p1", title="alpha", tag=None, finish_date=None)
    await uow.tasks.add(deleted)
    deleted.deleted_at = START
    await uow.tasks.update(deleted, 1)
    return live


async def test_task_pages_follow_every_whitelisted_sort_both_ways(uow: UnitOfWork, tasks: list[Task]) -> None:
    for sort in every_sort(TASK_SORT_FIELDS):
        pages = await walk_tasks(uow, TaskQuery("p1"), sort, size=5)
        assert [i for page in pages for i in page] == expected_order(tasks, sort), sort.render()
        assert [len(page) for page in pages] == [5, 5, 5, 1]


async def test_the_last_page_says_so_even_when_it_is_full(uow: UnitOfWork, tasks: list[Task]) -> None:
    first = await uow.tasks.list_keyset(TaskQuery("p1"), KeysetRequest(size=16, sort=Sort("title")))
    assert len(first.items) == 16
    assert first.next is None
    one_short = await uow.tasks.list_keyset(TaskQuery("p1"), KeysetRequest(size=15, sort=Sort("title")))
    assert one_short.next is not None
    rest = await uow.tasks.list_keyset(
        TaskQuery("p1"), KeysetRequest(size=15, sort=Sort("title"), after=one_short.next)
    )
    assert [t.id for t in rest.items] == expected_order(tasks, Sort("title"))[15:]
    assert rest.next is None


async def test_an_empty_list_is_one_empty_last_page(uow: UnitOfWork) -> None:
    found = await uow.tasks.list_keyset(TaskQuery("nothing-here"), KeysetRequest(size=3))
    assert found.items == []
    assert found.next is None


@READ_ONLY_EXAMPLES
@given(
    sort=st.builds(Sort, st.sampled_from(sorted(TASK_SORT_FIELDS)), st.booleans()),
    size=st.integers(min_value=1, max_value=7),
    tag=st.sampled_from([None, "red", "blue", "green"]),
)
async def test_walking_task_pages_yields_the_sorted_matches_once_each(
    uow: UnitOfWork, tasks: list[Task], sort: Sort, size: int, tag: str | None
) -> None:
    matches = [task for task in tasks if tag is None or task.tag == tag]
    pages = await walk_tasks(uow, TaskQuery("p1", tag=tag), sort, size)
    assert [i for page in pages for i in page] == expected_order(matches, sort)


@READ_ONLY_EXAMPLES
@given(
    sort=st.builds(Sort, st.sampled_from(sorted(TASK_SORT_FIELDS)), st.booleans()),
    index=st.integers(min_value=0, max_value=15),
    value_from=st.integers(min_value=0, max_value=15),
)
async def test_a_position_needs_no_item_there(
    uow: UnitOfWork, tasks: list[Task], sort: Sort, index: int, value_from: int
) -> None:
    """Any (sort value, id) is a position, whether or not a task has both: the page is what the
    contract's comparator puts after it (a deleted anchor, or a foreign one, behaves the same)."""
    anchor = Keyset(getattr(tasks[value_from], sort.field), tasks[index].id[:-1] + "0")
    found = await uow.tasks.list_keyset(TaskQuery("p1"), KeysetRequest(size=100, sort=sort, after=anchor))
    after = [t for t in tasks if follows(getattr(t, sort.field), t.id, anchor, sort)]
    assert [t.id for t in found.items] == expected_order(after, sort)


async def test_deleting_the_anchor_item_does_not_shift_the_next_page(uow: UnitOfWork, tasks: list[Task]) -> None:
    sort = Sort("created_at")
    first = await uow.tasks.list_keyset(TaskQuery("p1"), KeysetRequest(size=4, sort=sort))
    anchor = first.items[-1]
    anchor.deleted_at = START
    await uow.tasks.update(anchor, anchor.version)

    second = await uow.tasks.list_keyset(TaskQuery("p1"), KeysetRequest(size=4, sort=sort, after=first.next))
    assert [t.id for t in second.items] == expected_order(tasks, sort)[4:8]


@WRITING_EXAMPLES
@given(
    sort=st.builds(Sort, st.sampled_from(sorted(TASK_SORT_FIELDS)), st.booleans()),
    size=st.integers(min_value=1, max_value=5),
    seed=st.integers(min_value=0, max_value=2**32),
    inserts=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=8),
)
async def test_inserts_during_a_walk_never_shift_or_repeat_an_existing_task(
    uow: UnitOfWork, build: Builders, sort: Sort, size: int, seed: int, inserts: list[int]
) -> None:
    """Between pages, new tasks land anywhere in the order (before the position, after it, tied
    with it): every task that existed before the walk is seen exactly once, in order."""
    rng = random.Random(seed)
    project = f"p-{uuid.uuid4().hex}"
    existing = [random_task(build, rng, project, task_id=fresh_id(rng)) for _ in range(12)]
    for task in existing:
        await uow.tasks.add(task)

    seen: list[str] = []
    after: Keyset | None = None
    finished = False
    for step in range(100):
        found = await uow.tasks.list_keyset(TaskQuery(project), KeysetRequest(size=size, sort=sort, after=after))
        seen += [t.id for t in found.items]
        if found.next is None:
            finished = True
            break
        after = found.next
        # inserts only while the walk is young: at size 1 and 3 inserts a page, new tasks tied
        # after the position would otherwise outgrow the walk and it would never reach the end
        for _ in range(inserts[step % len(inserts)] if step < len(existing) else 0):
            await uow.tasks.add(random_task(build, rng, project, task_id=fresh_id(rng)))

    assert finished, "the walk never reached the last page"
    old = {t.id for t in existing}
    assert len(seen) == len(set(seen)), "a task was listed twice"
    assert [i for i in seen if i in old] == expected_order(existing, sort)


# --- projects and posts: the same machinery behind their filters ------------------------------


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


@READ_ONLY_EXAMPLES
@given(
    query=st.builds(
        ProjectQuery,
        viewer_id=st.sampled_from([None, "ada", "grace", "stranger"]),
        visibility=st.sampled_from([None, Visibility.PERSONAL, Visibility.PUBLIC]),
        q=st.sampled_from([None, "garden", "repair"]),
        owner_id=st.sampled_from([None, "ada"]),
    ),
    sort=st.builds(Sort, st.sampled_from(sorted(PROJECT_SORT_FIELDS)), st.booleans()),
    size=st.integers(min_value=1, max_value=5),
)
async def test_project_pages_apply_the_filters_in_list_order(
    uow: UnitOfWork, projects: list[Project], query: ProjectQuery, sort: Sort, size: int
) -> None:
    matches = [p for p in projects if visible(p, query)]
    seen: list[str] = []
    after: Keyset | None = None
    while True:
        found = await uow.projects.list_keyset(query, KeysetRequest(size=size, sort=sort, after=after))
        seen += [p.id for p in found.items]
        if found.next is None:
            break
        after = found.next
    assert seen == expected_order(matches, sort)


async def test_post_pages_show_only_what_the_viewer_may_see(uow: UnitOfWork, build: Builders) -> None:
    mine = build.project("ada", visibility=Visibility.PERSONAL)
    public = build.project("grace", visibility=Visibility.PUBLIC)
    hidden = build.project("grace", visibility=Visibility.PERSONAL)
    for project in (mine, public, hidden):
        await uow.projects.add(project)
    rng = random.Random(5)
    posts: list[Post] = []
    for _ in range(14):
        created = START + timedelta(minutes=rng.choice([0, 1]))
        on: Any = rng.choice([None, mine.id, public.id, hidden.id])
        post = new_post(build, project_id=on, title=rng.choice(TITLES), created_at=created, updated_at=created)
        await uow.posts.add(post)
        posts.append(post)
    can_see = [p for p in posts if p.project_id != hidden.id]

    for sort in every_sort(POST_SORT_FIELDS):
        for query, expected in ((PostQuery(viewer_id="ada"), can_see), (PostQuery(viewer_id=None), posts)):
            seen: list[str] = []
            after: Keyset | None = None
            while True:
                found = await uow.posts.list_keyset(query, KeysetRequest(size=3, sort=sort, after=after))
                seen += [p.id for p in found.items]
                if found.next is None:
                    break
                after = found.next
            assert seen == expected_order(expected, sort), (sort.render(), query)
