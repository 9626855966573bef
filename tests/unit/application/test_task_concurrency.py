"""TaskService under concurrency: the derived progress write is retried, If-Match still protects."""

from __future__ import annotations

import asyncio

import pytest

from adapters.memory.events import InMemoryEventPublisher
from adapters.memory.unit_of_work import MemoryUnitOfWork
from application.common import Ports
from application.projects import NewProject, ProjectService
from application.tasks import NewTask, TaskService
from domain import events as ev
from domain.board import Project, Task, TaskChanges, Visibility
from domain.errors import PreconditionFailed, TaskCompleted
from domain.identity import Principal, Role
from domain.paging import PageRequest, Sort
from tests.unit.application.fakes import WrappedUnitOfWork, names

ALICE = Principal("alice", frozenset({Role.MEMBER}))
ADMIN = Principal("root", frozenset({Role.ADMIN}))
BY_TITLE = PageRequest(page=1, size=100, sort=Sort("title"))


def _yielding(ports: Ports, memory_uow: MemoryUnitOfWork) -> WrappedUnitOfWork:
    """Repository calls yield to the event loop, as a networked store's do, so gather interleaves."""
    wrapped = WrappedUnitOfWork(memory_uow, yielding=True)
    ports.uow = wrapped
    return wrapped


async def _progress(projects: ProjectService, project_id: str) -> float:
    return (await projects.get(ADMIN, project_id)).progress


async def _project_with_tasks(ports: Ports, count: int) -> tuple[ProjectService, TaskService, Project, list[Task]]:
    projects, tasks = ProjectService(ports), TaskService(ports)
    project = await projects.create(ALICE, NewProject(title="House", visibility=Visibility.PUBLIC))
    created = [await tasks.create(ALICE, project.id, NewTask(title=f"t{i}")) for i in range(count)]
    return projects, tasks, project, created


@pytest.mark.parametrize("if_match", [False, True], ids=["no-if-match", "if-match"])
async def test_concurrent_updates_of_different_tasks_all_succeed_and_progress_is_the_mean(
    ports: Ports, memory_uow: MemoryUnitOfWork, publisher: InMemoryEventPublisher, if_match: bool
) -> None:
    wrapped = _yielding(ports, memory_uow)
    projects, tasks, project, created = await _project_with_tasks(ports, 4)
    wrapped.calls.clear()
    publisher.clear()
    wanted = [10, 35, 60, 99]

    # a second service on the same store plays a second process: a process queues its own
    # writers of a project (ProjectWriters), so only writers in different processes race
    services = [tasks, TaskService(ports)]
    saved = await asyncio.gather(
        *(
            services[number % 2].update(
                ALICE, task.id, TaskChanges(progress=value), expected_version=task.version if if_match else None
            )
            for number, (task, value) in enumerate(zip(created, wanted, strict=True))
        )
    )

    assert [s.progress for s in saved] == wanted
    assert [s.version for s in saved] == [2, 2, 2, 2]
    # they really raced: some progress writes lost to a concurrent one and were redone on fresh reads
    assert wrapped.calls.count("projects.update") > len(wanted)
    assert await _progress(projects, project.id) == 51.0
    assert names(publisher.history).count(ev.TASK_UPDATED) == len(wanted)


async def test_two_concurrent_updates_of_the_same_task_with_one_if_match_let_exactly_one_win(
    ports: Ports, memory_uow: MemoryUnitOfWork, publisher: InMemoryEventPublisher
) -> None:
    _yielding(ports, memory_uow)
    projects, tasks, project, (task,) = await _project_with_tasks(ports, 1)
    publisher.clear()

    results = await asyncio.gather(
        tasks.update(ALICE, task.id, TaskChanges(progress=30), expected_version=task.version),
        tasks.update(ALICE, task.id, TaskChanges(progress=70), expected_version=task.version),
        return_exceptions=True,
    )

    winners = [r for r in results if isinstance(r, Task)]
    losers = [r for r in results if not isinstance(r, Task)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert isinstance(losers[0], PreconditionFailed)
    stored = await tasks.get(ALICE, task.id)
    assert stored == winners[0]
    assert stored.version == 2
    assert await _progress(projects, project.id) == float(stored.progress)
    assert names(publisher.history).count(ev.TASK_UPDATED) == 1


async def test_concurrent_creates_in_one_project_count_every_task(ports: Ports, memory_uow: MemoryUnitOfWork) -> None:
    _yielding(ports, memory_uow)
    projects, tasks, project, _ = await _project_with_tasks(ports, 0)

    await asyncio.gather(*(tasks.create(ALICE, project.id, NewTask(title=f"t{v}", progress=v)) for v in (0, 50, 100)))

    assert (await tasks.list(ALICE, project.id, BY_TITLE)).total == 3
    assert await _progress(projects, project.id) == 50.0


async def test_two_concurrent_updates_of_the_same_task_without_if_match_both_apply_in_turn(
    ports: Ports, memory_uow: MemoryUnitOfWork
) -> None:
    _yielding(ports, memory_uow)
    projects, tasks, project, (task,) = await _project_with_tasks(ports, 1)

    first, second = await asyncio.gather(
        tasks.update(ALICE, task.id, TaskChanges(title="renamed")),
        tasks.update(ALICE, task.id, TaskChanges(progress=70)),
    )

    stored = await tasks.get(ALICE, task.id)
    # no precondition: the loser re-ran on the winner's result, so neither change was lost
    assert (stored.title, stored.progress, stored.version) == ("renamed", 70, 3)
    assert {first.version, second.version} == {2, 3}
    assert await _progress(projects, project.id) == 70.0


async def test_a_concurrent_completion_locks_out_the_other_update(ports: Ports, memory_uow: MemoryUnitOfWork) -> None:
    _yielding(ports, memory_uow)
    projects, tasks, project, (task,) = await _project_with_tasks(ports, 1)

    results = await asyncio.gather(
        tasks.update(ALICE, task.id, TaskChanges(progress=100)),
        tasks.update(ALICE, task.id, TaskChanges(progress=40)),
        return_exceptions=True,
    )

    assert isinstance(results[0], Task)
    assert isinstance(results[1], TaskCompleted)
    assert (await tasks.get(ALICE, task.id)).progress == 100
    assert await _progress(projects, project.id) == 100.0


async def test_one_process_queues_its_writers_of_a_project_so_none_loses_a_race(
    ports: Ports, memory_uow: MemoryUnitOfWork
) -> None:
    wrapped = _yielding(ports, memory_uow)
    projects, tasks, project, created = await _project_with_tasks(ports, 4)
    wrapped.calls.clear()

    await asyncio.gather(
        tasks.create(ALICE, project.id, NewTask(title="new", progress=100)),
        *(tasks.update(ALICE, task.id, TaskChanges(progress=50)) for task in created),
    )

    assert wrapped.calls.count("projects.update") == 5  # each wrote the progress once: no re-runs
    assert await _progress(projects, project.id) == 60.0
