"""ReadCache over the memory cache: hits, misses, bypasses, invalidation by events, and that the
services stay correct (fresh after writes, private projects still private) with a cache in front."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

import pytest

from adapters.memory.cache import MemoryCache
from adapters.memory.events import InMemoryEventPublisher
from application.caching import (
    PROJECT_LIST_SCOPE,
    CacheInvalidator,
    CacheResult,
    ReadCache,
    project_scope,
    scopes_for,
    task_list_scope,
    task_scope,
)
from application.common import Ports
from application.projects import NewProject, ProjectService
from application.tasks import NewTask, TaskService
from domain import events as ev
from domain.board import Project, ProjectChanges, SiteLocation, Task, TaskChanges, Visibility
from domain.errors import DependencyUnavailable, NotFound
from domain.events import DomainEvent
from domain.identity import Principal, Role
from domain.paging import Page, PageRequest, Sort
from domain.ports import ProjectQuery, TaskQuery

T = TypeVar("T")
T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
ALICE = Principal("alice", frozenset({Role.MEMBER}))
BOB = Principal("bob", frozenset({Role.MEMBER}))
PAGE = PageRequest(page=1, size=20, sort=Sort("title"))

PROJECT = Project(
    id="p1",
    owner_id="alice",
    title="Shed",
    created_at=T0,
    updated_at=T0,
    description="wood",
    visibility=Visibility.PUBLIC,
    finish_date=date(2025, 6, 1),
    site=SiteLocation(place="Oslo", lat=59.9, lon=10.7),
    progress=33.3,
    version=4,
)
TASK = Task(
    id="t1",
    project_id="p1",
    title="Roof",
    created_at=T0,
    updated_at=T0,
    tag="outside",
    progress=40,
    finish_date=date(2025, 5, 1),
    version=2,
)


class Recorder:
    def __init__(self) -> None:
        self.lookups: list[tuple[CacheResult, str]] = []
        self.failed: list[Sequence[str]] = []

    def lookup(self, result: CacheResult, kind: str, error: Exception | None = None) -> None:
        self.lookups.append((result, kind))

    def invalidation_failed(self, scopes: Sequence[str], error: Exception) -> None:
        self.failed.append(scopes)


class DownCache(MemoryCache):
    """A cache whose chosen operations fail as an unreachable Redis would."""

    def __init__(self, *failing: str) -> None:
        super().__init__()
        self.failing = set(failing)

    async def get(self, key: str) -> bytes | None:
        if "get" in self.failing:
            raise DependencyUnavailable("redis")
        return await super().get(key)

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        if "set" in self.failing:
            raise DependencyUnavailable("redis")
        await super().set(key, value, ttl_seconds)

    async def bump(self, scope: str) -> int:
        if "bump" in self.failing:
            raise DependencyUnavailable("redis")
        return await super().bump(scope)


class Loader(Generic[T]):
    def __init__(self, value: T) -> None:
        self.value = value
        self.calls = 0

    async def __call__(self) -> T:
        self.calls += 1
        return self.value


# --- ReadCache ---------------------------------------------------------------------------------


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        ReadCache(MemoryCache(), ttl_seconds=0)


async def test_without_a_cache_every_read_loads() -> None:
    cache, load = ReadCache(None), Loader[Project | None](PROJECT)

    assert await cache.project("p1", load) == PROJECT
    assert await cache.project("p1", load) == PROJECT
    assert load.calls == 2
    await cache.invalidate([project_scope("p1")])  # nothing to bump: no error


async def test_records_round_trip_and_the_second_read_is_a_hit() -> None:
    recorder = Recorder()
    cache = ReadCache(MemoryCache(), observer=recorder)
    load_project, load_task = Loader[Project | None](PROJECT), Loader[Task | None](TASK)

    for _ in range(2):
        assert await cache.project("p1", load_project) == PROJECT
        assert await cache.task("t1", load_task) == TASK

    assert (load_project.calls, load_task.calls) == (1, 1)
    assert recorder.lookups == [
        (CacheResult.MISS, "project"),
        (CacheResult.MISS, "task"),
        (CacheResult.HIT, "project"),
        (CacheResult.HIT, "task"),
    ]


async def test_a_missing_record_is_not_cached() -> None:
    cache, load = ReadCache(MemoryCache()), Loader[Project | None](None)

    assert await cache.project("nope", load) is None
    assert await cache.project("nope", load) is None
    assert load.calls == 2


async def test_pages_are_cached_per_viewer_and_filters() -> None:
    cache = ReadCache(MemoryCache())
    page = Page(items=[PROJECT], total=1, page=1, size=20)
    load = Loader(page)

    for viewer in ("alice", "alice", "bob", None):
        assert await cache.project_page(ProjectQuery(viewer_id=viewer), PAGE, load) == page
    await cache.project_page(ProjectQuery(viewer_id="alice", q="shed"), PAGE, load)

    assert load.calls == 4  # alice (once), bob, admin, alice with a filter

    tasks_page = Page(items=[TASK], total=1, page=1, size=20)
    load_tasks = Loader(tasks_page)
    for _ in range(2):
        assert await cache.task_page(TaskQuery("p1", tag="outside"), PAGE, load_tasks) == tasks_page
    assert load_tasks.calls == 1


async def test_invalidating_a_scope_makes_the_next_read_load_again() -> None:
    cache = ReadCache(MemoryCache())
    load = Loader[Project | None](PROJECT)
    await cache.project("p1", load)

    await cache.invalidate([project_scope("p2")])
    await cache.project("p1", load)
    await cache.invalidate([project_scope("p1")])
    await cache.project("p1", load)

    assert load.calls == 2


async def test_an_unreadable_entry_is_a_miss_and_is_replaced() -> None:
    memory = MemoryCache()
    cache = ReadCache(memory)
    await cache.project("p1", Loader[Project | None](PROJECT))
    for key in list(memory._entries):
        await memory.set(key, json.dumps({"id": "p1"}).encode(), 60)
    load = Loader[Project | None](PROJECT)

    assert await cache.project("p1", load) == PROJECT
    assert await cache.project("p1", load) == PROJECT
    assert load.calls == 1


@pytest.mark.parametrize("failing", ["get", "set"])
async def test_an_unreachable_cache_is_bypassed(failing: str) -> None:
    recorder = Recorder()
    cache = ReadCache(DownCache(failing), observer=recorder)
    load = Loader[Project | None](PROJECT)

    assert await cache.project("p1", load) == PROJECT
    assert await cache.project("p1", load) == PROJECT

    assert load.calls == 2
    assert (CacheResult.BYPASS, "project") in recorder.lookups


async def test_a_failed_invalidation_is_reported_not_raised() -> None:
    recorder = Recorder()
    cache = ReadCache(DownCache("bump"), observer=recorder)

    await cache.invalidate([project_scope("p1"), PROJECT_LIST_SCOPE])

    assert recorder.failed == [[project_scope("p1"), PROJECT_LIST_SCOPE]]


def _event(name: str, project_id: str | None = "p1", data: dict[str, Any] | None = None) -> DomainEvent:
    return DomainEvent(id="e", name=name, actor_id="alice", at=T0, project_id=project_id, data=data or {})


@pytest.mark.parametrize(
    ("event", "scopes"),
    [
        (_event(ev.PROJECT_CREATED), [project_scope("p1"), PROJECT_LIST_SCOPE]),
        (_event(ev.PROJECT_PROGRESS_CHANGED), [project_scope("p1"), PROJECT_LIST_SCOPE]),
        (_event(ev.PROJECT_DELETED), [project_scope("p1"), task_list_scope("p1"), PROJECT_LIST_SCOPE]),
        (_event(ev.PROJECT_UPDATED, project_id=None), [PROJECT_LIST_SCOPE]),
        (_event(ev.TASK_UPDATED, data={"task_id": "t1"}), [task_scope("t1"), task_list_scope("p1")]),
        (_event(ev.TASK_DELETED, project_id=None, data={"task_id": "t1", "project_id": 7}), [task_scope("t1")]),
        (_event(ev.USER_SIGNED_UP, project_id=None), []),
    ],
)
def test_scopes_for_each_event(event: DomainEvent, scopes: list[str]) -> None:
    assert scopes_for(event) == scopes


def test_scopes_fall_back_to_the_project_id_in_the_payload() -> None:
    event = _event(ev.TASK_CREATED, project_id=None, data={"task_id": "t1", "project_id": "p9"})

    assert scopes_for(event) == [task_scope("t1"), task_list_scope("p9")]


# --- the services with a cache in front ------------------------------------------------------


@pytest.fixture
def cached(ports: Ports, publisher: InMemoryEventPublisher) -> tuple[ProjectService, TaskService]:
    cache = ReadCache(MemoryCache())
    publisher.subscribe(CacheInvalidator(cache))
    return ProjectService(ports, cache), TaskService(ports, cache)


async def test_reads_after_writes_are_fresh(cached: tuple[ProjectService, TaskService]) -> None:
    projects, tasks = cached
    project = await projects.create(ALICE, NewProject(title="Shed", visibility=Visibility.PUBLIC))
    assert (await projects.list(BOB, PAGE)).total == 1
    task = await tasks.create(ALICE, project.id, NewTask(title="Roof"))
    assert (await tasks.get(BOB, task.id)).progress == 0
    assert (await tasks.list(BOB, project.id, PAGE)).total == 1

    await tasks.update(ALICE, task.id, TaskChanges(progress=80))
    await projects.update(ALICE, project.id, ProjectChanges(title="Big shed"))

    assert (await tasks.get(BOB, task.id)).progress == 80
    assert [t.progress for t in (await tasks.list(BOB, project.id, PAGE)).items] == [80]
    seen = await projects.get(BOB, project.id)
    assert (seen.title, seen.progress) == ("Big shed", 80.0)
    assert [p.title for p in (await projects.list(BOB, PAGE)).items] == ["Big shed"]

    await projects.update(ALICE, project.id, ProjectChanges(visibility=Visibility.PERSONAL))
    with pytest.raises(NotFound):
        await projects.get(BOB, project.id)
    with pytest.raises(NotFound):
        await tasks.get(BOB, task.id)
    assert (await projects.list(BOB, PAGE)).total == 0

    await projects.delete(ALICE, project.id)
    with pytest.raises(NotFound):
        await projects.get(ALICE, project.id)
    with pytest.raises(NotFound):
        await tasks.get(ALICE, task.id)


async def test_a_cached_personal_project_is_never_served_to_another_member(
    cached: tuple[ProjectService, TaskService],
) -> None:
    projects, tasks = cached
    project = await projects.create(ALICE, NewProject(title="Diary"))
    task = await tasks.create(ALICE, project.id, NewTask(title="Page 1"))
    assert (await projects.get(ALICE, project.id)).id == project.id  # now cached
    assert (await tasks.get(ALICE, task.id)).id == task.id

    with pytest.raises(NotFound):
        await projects.get(BOB, project.id)
    with pytest.raises(NotFound):
        await tasks.get(BOB, task.id)
    with pytest.raises(NotFound):
        await tasks.list(BOB, project.id, PAGE)
