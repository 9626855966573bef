"""TaskService: task changes keep the project's derived progress true, in one transaction."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.memory.events import InMemoryEventPublisher
from adapters.memory.unit_of_work import MemoryUnitOfWork
from application.common import Ports
from application.projects import NewProject, ProjectService
from application.tasks import NewTask, TaskService
from domain import events as ev
from domain.board import Project, TaskChanges, Visibility
from domain.errors import Forbidden, NotFound, PreconditionFailed, TaskCompleted, ValidationFailed
from domain.events import DomainEvent
from domain.identity import Principal, Role
from domain.paging import PageRequest, Sort
from tests.unit.application.fakes import Boom, WrappedUnitOfWork, names

ALICE = Principal("alice", frozenset({Role.MEMBER}))
BOB = Principal("bob", frozenset({Role.MEMBER}))
ADMIN = Principal("root", frozenset({Role.ADMIN}))
GUEST = Principal("gail", frozenset({Role.GUEST}))
BY_TITLE = PageRequest(page=1, size=100, sort=Sort("title"))


async def _project(projects: ProjectService, visibility: Visibility = Visibility.PUBLIC) -> Project:
    return await projects.create(ALICE, NewProject(title="House", visibility=visibility))


async def _progress(projects: ProjectService, project_id: str) -> float:
    return (await projects.get(ADMIN, project_id)).progress


# --- create ------------------------------------------------------------------------------------


async def test_create_stores_the_task_and_recomputes_progress(
    projects: ProjectService, tasks: TaskService, publisher: InMemoryEventPublisher
) -> None:
    project = await _project(projects)
    publisher.clear()

    task = await tasks.create(
        ALICE, project.id, NewTask(title="  Roof ", tag=" outside ", progress=40, finish_date=date(2025, 5, 1))
    )

    assert await tasks.get(ALICE, task.id) == task
    assert (task.title, task.tag, task.progress, task.version) == ("Roof", "outside", 40, 1)
    assert await _progress(projects, project.id) == 40.0
    assert names(publisher.history) == [ev.TASK_CREATED, ev.PROJECT_PROGRESS_CHANGED]
    changed = publisher.history[1]
    assert changed.data["progress"] == 40.0
    assert changed.data["previous"] == 0.0
    assert changed.user_id == "alice"


async def test_progress_is_the_rounded_mean_of_live_tasks(projects: ProjectService, tasks: TaskService) -> None:
    project = await _project(projects)

    for value in (0, 0, 1, 0):
        await tasks.create(ALICE, project.id, NewTask(title=f"p{value}", progress=value))

    assert await _progress(projects, project.id) == 0.3  # 0.25 half up


async def test_a_task_created_at_100_is_completed_at_once(
    projects: ProjectService, tasks: TaskService, publisher: InMemoryEventPublisher
) -> None:
    project = await _project(projects)
    publisher.clear()

    task = await tasks.create(ALICE, project.id, NewTask(title="Done already", progress=100))

    assert task.completed
    assert names(publisher.history) == [ev.TASK_CREATED, ev.TASK_COMPLETED, ev.PROJECT_PROGRESS_CHANGED]


async def test_a_task_at_0_in_a_project_at_0_publishes_no_progress_change(
    projects: ProjectService, tasks: TaskService, publisher: InMemoryEventPublisher
) -> None:
    project = await _project(projects)
    publisher.clear()

    await tasks.create(ALICE, project.id, NewTask(title="Plan"))

    assert names(publisher.history) == [ev.TASK_CREATED]
    assert (await projects.get(ALICE, project.id)).version == project.version


@pytest.mark.parametrize(
    ("new", "fields"),
    [
        (NewTask(title=""), ["body.title"]),
        (NewTask(title="ok", progress=101), ["body.progress"]),
        (NewTask(title="ok", progress=-1), ["body.progress"]),
        (NewTask(title="ok", tag=""), ["body.tag"]),
        (NewTask(title="x" * 201, description="x" * 10_001), ["body.title", "body.description"]),
    ],
)
async def test_create_refuses_invalid_input(
    projects: ProjectService, tasks: TaskService, new: NewTask, fields: list[str]
) -> None:
    project = await _project(projects)

    with pytest.raises(ValidationFailed) as raised:
        await tasks.create(ALICE, project.id, new)

    assert [p.field for p in raised.value.problems] == fields
    assert (await tasks.list(ALICE, project.id, BY_TITLE)).total == 0


async def test_who_may_create_tasks(projects: ProjectService, tasks: TaskService) -> None:
    public = await _project(projects, Visibility.PUBLIC)
    personal = await _project(projects, Visibility.PERSONAL)

    with pytest.raises(Forbidden):
        await tasks.create(BOB, public.id, NewTask(title="x"))
    with pytest.raises(Forbidden):
        await tasks.create(GUEST, public.id, NewTask(title="x"))
    with pytest.raises(NotFound):
        await tasks.create(BOB, personal.id, NewTask(title="x"))
    with pytest.raises(NotFound):
        await tasks.create(ALICE, "missing", NewTask(title="x"))
    assert (await tasks.create(ADMIN, personal.id, NewTask(title="by admin"))).project_id == personal.id
    assert (await tasks.list(ALICE, public.id, BY_TITLE)).total == 0


# --- read ----------------------------------------------------------------------------------------


async def test_reading_tasks_follows_project_visibility(projects: ProjectService, tasks: TaskService) -> None:
    public = await _project(projects, Visibility.PUBLIC)
    personal = await _project(projects, Visibility.PERSONAL)
    shown = await tasks.create(ALICE, public.id, NewTask(title="shown"))
    hidden = await tasks.create(ALICE, personal.id, NewTask(title="hidden"))

    assert await tasks.get(BOB, shown.id) == shown
    assert [t.id for t in (await tasks.list(GUEST, public.id, BY_TITLE)).items] == [shown.id]
    with pytest.raises(NotFound) as raised:
        await tasks.get(BOB, hidden.id)
    assert raised.value.message == "The task does not exist."
    with pytest.raises(NotFound):
        await tasks.list(BOB, personal.id, BY_TITLE)
    with pytest.raises(NotFound):
        await tasks.get(ALICE, "missing")


async def test_list_filters_by_tag(projects: ProjectService, tasks: TaskService) -> None:
    project = await _project(projects)
    for title, tag in [("a", "inside"), ("b", "outside"), ("c", "inside"), ("d", None)]:
        await tasks.create(ALICE, project.id, NewTask(title=title, tag=tag))

    page = await tasks.list(BOB, project.id, BY_TITLE, tag="inside")

    assert [t.title for t in page.items] == ["a", "c"]
    assert page.total == 2


# --- update --------------------------------------------------------------------------------------


async def test_update_changes_the_task_and_recomputes_progress(
    projects: ProjectService, tasks: TaskService, publisher: InMemoryEventPublisher
) -> None:
    project = await _project(projects)
    first = await tasks.create(ALICE, project.id, NewTask(title="a", progress=10))
    await tasks.create(ALICE, project.id, NewTask(title="b", progress=20))
    publisher.clear()

    saved = await tasks.update(ALICE, first.id, TaskChanges(progress=50, tag="x"), expected_version=1)

    assert (saved.progress, saved.tag, saved.version) == (50, "x", 2)
    assert await tasks.get(ALICE, first.id) == saved
    assert await _progress(projects, project.id) == 35.0
    assert names(publisher.history) == [ev.TASK_UPDATED, ev.PROJECT_PROGRESS_CHANGED]


async def test_completing_a_task_emits_task_completed_once(
    projects: ProjectService, tasks: TaskService, publisher: InMemoryEventPublisher
) -> None:
    project = await _project(projects)
    task = await tasks.create(ALICE, project.id, NewTask(title="a", progress=90))
    publisher.clear()

    await tasks.update(ALICE, task.id, TaskChanges(progress=100))

    assert names(publisher.history) == [ev.TASK_UPDATED, ev.TASK_COMPLETED, ev.PROJECT_PROGRESS_CHANGED]
    completed = publisher.history[1]
    assert completed.data["task_id"] == task.id
    assert completed.data["completed"] is True
    assert completed.project_id == project.id
    assert completed.actor_id == "alice"


async def test_a_completed_task_refuses_update_and_delete(
    projects: ProjectService, tasks: TaskService, publisher: InMemoryEventPublisher
) -> None:
    project = await _project(projects)
    task = await tasks.create(ALICE, project.id, NewTask(title="a", progress=100))
    publisher.clear()

    with pytest.raises(TaskCompleted):
        await tasks.update(ALICE, task.id, TaskChanges(title="again"))
    with pytest.raises(TaskCompleted):
        await tasks.update(ADMIN, task.id, TaskChanges(progress=50))
    with pytest.raises(TaskCompleted):
        await tasks.delete(ALICE, task.id)

    assert await tasks.get(ALICE, task.id) == task
    assert await _progress(projects, project.id) == 100.0
    assert publisher.history == ()


async def test_a_title_change_leaves_progress_and_the_project_alone(
    projects: ProjectService, tasks: TaskService, publisher: InMemoryEventPublisher
) -> None:
    project = await _project(projects)
    task = await tasks.create(ALICE, project.id, NewTask(title="a", progress=30))
    before = await projects.get(ALICE, project.id)
    publisher.clear()

    await tasks.update(ALICE, task.id, TaskChanges(title="renamed"))

    assert names(publisher.history) == [ev.TASK_UPDATED]
    assert await projects.get(ALICE, project.id) == before


async def test_who_may_update_and_delete_tasks(projects: ProjectService, tasks: TaskService) -> None:
    public = await _project(projects, Visibility.PUBLIC)
    personal = await _project(projects, Visibility.PERSONAL)
    on_public = await tasks.create(ALICE, public.id, NewTask(title="a"))
    on_personal = await tasks.create(ALICE, personal.id, NewTask(title="b"))

    with pytest.raises(Forbidden):
        await tasks.update(BOB, on_public.id, TaskChanges(progress=10))
    with pytest.raises(Forbidden):
        await tasks.delete(GUEST, on_public.id)
    with pytest.raises(NotFound):
        await tasks.update(BOB, on_personal.id, TaskChanges(progress=10))
    with pytest.raises(NotFound):
        await tasks.delete(BOB, on_personal.id)

    assert await tasks.get(ALICE, on_public.id) == on_public
    assert await tasks.get(ALICE, on_personal.id) == on_personal
    assert (await tasks.update(ADMIN, on_personal.id, TaskChanges(progress=10))).progress == 10


async def test_a_stale_if_match_is_a_failed_precondition(
    projects: ProjectService, tasks: TaskService, publisher: InMemoryEventPublisher
) -> None:
    project = await _project(projects)
    task = await tasks.create(ALICE, project.id, NewTask(title="a"))
    current = await tasks.update(ALICE, task.id, TaskChanges(progress=20), expected_version=1)
    publisher.clear()

    with pytest.raises(PreconditionFailed):
        await tasks.update(ALICE, task.id, TaskChanges(progress=60), expected_version=1)
    with pytest.raises(PreconditionFailed):
        await tasks.delete(ALICE, task.id, expected_version=1)

    assert await tasks.get(ALICE, task.id) == current
    assert await _progress(projects, project.id) == 20.0
    assert publisher.history == ()


async def test_invalid_changes_change_nothing(projects: ProjectService, tasks: TaskService) -> None:
    project = await _project(projects)
    task = await tasks.create(ALICE, project.id, NewTask(title="a", progress=10))

    with pytest.raises(ValidationFailed):
        await tasks.update(ALICE, task.id, TaskChanges(progress=101))

    assert await tasks.get(ALICE, task.id) == task
    assert await _progress(projects, project.id) == 10.0


# --- delete --------------------------------------------------------------------------------------


async def test_delete_removes_the_task_and_recomputes_progress(
    projects: ProjectService, tasks: TaskService, publisher: InMemoryEventPublisher
) -> None:
    project = await _project(projects)
    low = await tasks.create(ALICE, project.id, NewTask(title="low", progress=10))
    await tasks.create(ALICE, project.id, NewTask(title="high", progress=90))
    publisher.clear()

    await tasks.delete(ALICE, low.id, expected_version=1)

    with pytest.raises(NotFound):
        await tasks.get(ALICE, low.id)
    assert await _progress(projects, project.id) == 90.0
    assert names(publisher.history) == [ev.TASK_DELETED, ev.PROJECT_PROGRESS_CHANGED]
    assert publisher.history[0].data == {"task_id": low.id, "project_id": project.id}


async def test_deleting_the_last_task_brings_progress_back_to_zero(
    projects: ProjectService, tasks: TaskService
) -> None:
    project = await _project(projects)
    task = await tasks.create(ALICE, project.id, NewTask(title="only", progress=70))

    await tasks.delete(ALICE, task.id)

    assert await _progress(projects, project.id) == 0.0


# --- transactions, rollback and publishing after commit ------------------------------------------


def _wrapped(ports: Ports, memory_uow: MemoryUnitOfWork, *, yielding: bool = False) -> WrappedUnitOfWork:
    wrapped = WrappedUnitOfWork(memory_uow, yielding=yielding)
    ports.uow = wrapped
    return wrapped


@pytest.mark.parametrize(
    ("operation", "task_write"),
    [("create", "tasks.add"), ("update", "tasks.update"), ("delete", "tasks.update")],
)
async def test_a_failure_between_task_write_and_progress_write_rolls_back(
    ports: Ports, memory_uow: MemoryUnitOfWork, publisher: InMemoryEventPublisher, operation: str, task_write: str
) -> None:
    wrapped = _wrapped(ports, memory_uow)
    projects, tasks = ProjectService(ports), TaskService(ports)
    project = await _project(projects)
    task = await tasks.create(ALICE, project.id, NewTask(title="a", progress=20))
    project_before = await projects.get(ALICE, project.id)
    publisher.clear()
    wrapped.calls.clear()
    wrapped.failures["projects.update"] = Boom
    run = {
        "create": lambda: tasks.create(ALICE, project.id, NewTask(title="b", progress=80)),
        "update": lambda: tasks.update(ALICE, task.id, TaskChanges(progress=80)),
        "delete": lambda: tasks.delete(ALICE, task.id),
    }[operation]

    with pytest.raises(Boom):
        await run()

    # the task write happened first, inside the transaction, and was rolled back with it
    assert wrapped.calls.index(task_write) < wrapped.calls.index("projects.update")
    assert await tasks.get(ALICE, task.id) == task
    assert [t.id for t in (await tasks.list(ALICE, project.id, BY_TITLE)).items] == [task.id]
    assert await projects.get(ALICE, project.id) == project_before
    assert publisher.history == ()


async def test_events_are_published_after_the_commit(
    ports: Ports, memory_uow: MemoryUnitOfWork, publisher: InMemoryEventPublisher
) -> None:
    projects, tasks = ProjectService(ports), TaskService(ports)
    project = await _project(projects)
    task = await tasks.create(ALICE, project.id, NewTask(title="a"))
    seen: list[tuple[str, bool, int | None, float | None]] = []

    async def observe(event: DomainEvent) -> None:
        # What a subscriber on another connection would read: the committed state only.
        in_transaction = memory_uow.store.current_transaction() is not None
        committed_task = memory_uow.store.tasks.find(task.id)
        committed_project = memory_uow.store.projects.find(project.id)
        seen.append(
            (
                event.name,
                in_transaction,
                committed_task.progress if committed_task else None,
                committed_project.progress if committed_project else None,
            )
        )

    publisher.subscribe(observe)

    await tasks.update(ALICE, task.id, TaskChanges(progress=100))

    assert seen == [
        (ev.TASK_UPDATED, False, 100, 100.0),
        (ev.TASK_COMPLETED, False, 100, 100.0),
        (ev.PROJECT_PROGRESS_CHANGED, False, 100, 100.0),
    ]


async def test_changing_a_missing_task_is_not_found(tasks: TaskService) -> None:
    with pytest.raises(NotFound):
        await tasks.update(ALICE, "missing", TaskChanges(progress=10))
    with pytest.raises(NotFound):
        await tasks.delete(ALICE, "missing")
