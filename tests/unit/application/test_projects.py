"""ProjectService: creation, visibility in reads and lists, changes with If-Match, cascading delete."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.memory.clock import FixedClock
from adapters.memory.events import InMemoryEventPublisher
from adapters.memory.unit_of_work import MemoryUnitOfWork
from application.common import Ports
from application.projects import NewProject, ProjectService
from application.tasks import NewTask, TaskService
from domain import events as ev
from domain.board import Project, ProjectChanges, SiteLocation, Visibility
from domain.errors import Forbidden, NotFound, PreconditionFailed, ValidationFailed
from domain.identity import Principal, Role
from domain.paging import PageRequest, Sort
from tests.unit.application.fakes import Boom, WrappedUnitOfWork

ALICE = Principal("alice", frozenset({Role.MEMBER}))
BOB = Principal("bob", frozenset({Role.MEMBER}))
ADMIN = Principal("root", frozenset({Role.ADMIN}))
GUEST = Principal("gail", frozenset({Role.GUEST}))
FIRST_PAGE = PageRequest(page=1, size=100, sort=Sort("title"))

PERSONAL = NewProject(title="Alice's diary", visibility=Visibility.PERSONAL)
PUBLIC = NewProject(title="Community garden", visibility=Visibility.PUBLIC)


# --- create ------------------------------------------------------------------------------------


async def test_create_stores_the_project_owned_by_the_caller(
    projects: ProjectService, memory_uow: MemoryUnitOfWork, clock: FixedClock
) -> None:
    site = SiteLocation(place="Oslo", lat=59.9, lon=10.7)

    created = await projects.create(
        ALICE,
        NewProject(title="  Shed  ", description="wood", finish_date=date(2025, 6, 1), site=site),
    )

    stored = await memory_uow.projects.get(created.id)
    assert stored == created
    assert stored.owner_id == "alice"
    assert stored.title == "Shed"
    assert stored.visibility is Visibility.PERSONAL
    assert stored.progress == 0.0
    assert stored.version == 1
    assert stored.created_at == stored.updated_at == clock.now()


async def test_create_publishes_project_created(projects: ProjectService, publisher: InMemoryEventPublisher) -> None:
    created = await projects.create(ALICE, PUBLIC)

    (event,) = publisher.history
    assert event.name == ev.PROJECT_CREATED
    assert event.actor_id == "alice"
    assert event.project_id == created.id
    assert event.user_id == "alice"
    assert event.data["visibility"] == "public"
    assert event.data["progress"] == 0.0


async def test_a_guest_cannot_create_a_project(
    projects: ProjectService, memory_uow: MemoryUnitOfWork, publisher: InMemoryEventPublisher
) -> None:
    with pytest.raises(Forbidden):
        await projects.create(GUEST, PUBLIC)

    assert (await projects.list(ADMIN, FIRST_PAGE)).total == 0
    assert publisher.history == ()


@pytest.mark.parametrize(
    ("new", "fields"),
    [
        (NewProject(title=""), ["body.title"]),
        (NewProject(title="x" * 201), ["body.title"]),
        (NewProject(title="ok", description="x" * 10_001), ["body.description"]),
        (NewProject(title="ok", site=SiteLocation(lat=95.0, lon=0.0)), ["body.site.lat"]),
        (NewProject(title=" ", site=SiteLocation()), ["body.title", "body.site"]),
    ],
)
async def test_create_refuses_invalid_input_and_stores_nothing(
    projects: ProjectService, publisher: InMemoryEventPublisher, new: NewProject, fields: list[str]
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        await projects.create(ALICE, new)

    assert [p.field for p in raised.value.problems] == fields
    assert (await projects.list(ADMIN, FIRST_PAGE)).total == 0
    assert publisher.history == ()


# --- get and list ------------------------------------------------------------------------------


async def test_owner_admin_and_others_see_what_visibility_allows(projects: ProjectService) -> None:
    personal = await projects.create(ALICE, PERSONAL)
    public = await projects.create(ALICE, PUBLIC)

    assert (await projects.get(ALICE, personal.id)).id == personal.id
    assert (await projects.get(ADMIN, personal.id)).id == personal.id
    assert (await projects.get(BOB, public.id)).id == public.id
    assert (await projects.get(GUEST, public.id)).id == public.id
    with pytest.raises(NotFound):
        await projects.get(BOB, personal.id)
    with pytest.raises(NotFound):
        await projects.get(GUEST, personal.id)


async def test_get_of_a_missing_project_is_not_found(projects: ProjectService) -> None:
    with pytest.raises(NotFound):
        await projects.get(ALICE, "does-not-exist")


async def _board(projects: ProjectService) -> dict[str, Project]:
    return {
        "alice-personal": await projects.create(ALICE, NewProject(title="Alice personal")),
        "alice-public": await projects.create(ALICE, NewProject(title="Alice public", visibility=Visibility.PUBLIC)),
        "bob-personal": await projects.create(BOB, NewProject(title="Bob personal")),
        "bob-public": await projects.create(BOB, NewProject(title="Bob PUBLIC roof", visibility=Visibility.PUBLIC)),
    }


@pytest.mark.parametrize(
    ("principal", "titles"),
    [
        (ALICE, ["Alice personal", "Alice public", "Bob PUBLIC roof"]),
        (BOB, ["Alice public", "Bob PUBLIC roof", "Bob personal"]),
        (GUEST, ["Alice public", "Bob PUBLIC roof"]),
        (ADMIN, ["Alice personal", "Alice public", "Bob PUBLIC roof", "Bob personal"]),
    ],
    ids=["alice", "bob", "guest", "admin"],
)
async def test_list_shows_only_visible_projects_and_counts_only_them(
    projects: ProjectService, principal: Principal, titles: list[str]
) -> None:
    await _board(projects)

    page = await projects.list(principal, FIRST_PAGE)

    assert [p.title for p in page.items] == titles
    assert page.total == len(titles)


async def test_list_totals_ignore_invisible_projects_across_pages(projects: ProjectService) -> None:
    await _board(projects)

    page = await projects.list(BOB, PageRequest(page=1, size=1, sort=Sort("title")))

    assert page.total == 3
    assert page.pages == 3


@pytest.mark.parametrize(
    ("q", "visibility", "titles"),
    [
        ("public", None, ["Alice public", "Bob PUBLIC roof"]),
        ("  ROOF ", None, ["Bob PUBLIC roof"]),
        ("   ", None, ["Alice personal", "Alice public", "Bob PUBLIC roof"]),
        (None, Visibility.PERSONAL, ["Alice personal"]),
        (None, Visibility.PUBLIC, ["Alice public", "Bob PUBLIC roof"]),
        ("bob", Visibility.PERSONAL, []),
        ("alice", Visibility.PUBLIC, ["Alice public"]),
    ],
)
async def test_list_filters_by_q_and_visibility_within_what_is_visible(
    projects: ProjectService, q: str | None, visibility: Visibility | None, titles: list[str]
) -> None:
    await _board(projects)

    page = await projects.list(ALICE, FIRST_PAGE, visibility=visibility, q=q)

    assert [p.title for p in page.items] == titles
    assert page.total == len(titles)


async def test_admin_filters_over_every_project(projects: ProjectService) -> None:
    await _board(projects)

    page = await projects.list(ADMIN, FIRST_PAGE, visibility=Visibility.PERSONAL)

    assert [p.title for p in page.items] == ["Alice personal", "Bob personal"]


# --- update ------------------------------------------------------------------------------------


async def test_the_owner_updates_and_an_event_says_what_changed(
    projects: ProjectService, publisher: InMemoryEventPublisher, clock: FixedClock
) -> None:
    created = await projects.create(ALICE, PERSONAL)
    publisher.clear()
    clock.advance(60)

    saved = await projects.update(
        ALICE, created.id, ProjectChanges(title="Renamed", visibility=Visibility.PUBLIC), expected_version=1
    )

    assert saved.title == "Renamed"
    assert saved.visibility is Visibility.PUBLIC
    assert saved.version == 2
    assert saved.updated_at == clock.now()
    assert await projects.get(BOB, created.id) == saved
    (event,) = publisher.history
    assert event.name == ev.PROJECT_UPDATED
    assert event.data["previous_visibility"] == "personal"
    assert event.data["visibility"] == "public"
    assert event.data["version"] == 2


async def test_an_admin_may_update_anyones_project(projects: ProjectService) -> None:
    created = await projects.create(ALICE, PERSONAL)

    saved = await projects.update(ADMIN, created.id, ProjectChanges(description="moderated"))

    assert saved.description == "moderated"
    assert saved.owner_id == "alice"


async def test_another_member_may_not_change_a_public_project(
    projects: ProjectService, publisher: InMemoryEventPublisher
) -> None:
    created = await projects.create(ALICE, PUBLIC)
    publisher.clear()

    with pytest.raises(Forbidden):
        await projects.update(BOB, created.id, ProjectChanges(title="Mine now"))

    assert (await projects.get(ALICE, created.id)) == created
    assert publisher.history == ()


async def test_another_members_personal_project_does_not_exist_for_an_update(projects: ProjectService) -> None:
    created = await projects.create(ALICE, PERSONAL)

    with pytest.raises(NotFound):
        await projects.update(BOB, created.id, ProjectChanges(title="Mine now"))

    assert (await projects.get(ALICE, created.id)) == created


async def test_a_stale_if_match_changes_nothing(projects: ProjectService, publisher: InMemoryEventPublisher) -> None:
    created = await projects.create(ALICE, PERSONAL)
    current = await projects.update(ALICE, created.id, ProjectChanges(title="Second"), expected_version=1)
    publisher.clear()

    with pytest.raises(PreconditionFailed) as raised:
        await projects.update(ALICE, created.id, ProjectChanges(title="Third"), expected_version=1)

    assert raised.value.code == "precondition_failed"
    assert (await projects.get(ALICE, created.id)) == current
    assert publisher.history == ()


async def test_invalid_changes_change_nothing(projects: ProjectService) -> None:
    created = await projects.create(ALICE, PERSONAL)

    with pytest.raises(ValidationFailed):
        await projects.update(ALICE, created.id, ProjectChanges(title="", site=SiteLocation(lat=1.0)))

    assert (await projects.get(ALICE, created.id)) == created


# --- delete ------------------------------------------------------------------------------------


async def _project_with_tasks(projects: ProjectService, tasks: TaskService) -> tuple[Project, list[str]]:
    created = await projects.create(ALICE, PUBLIC)
    task_ids = [(await tasks.create(ALICE, created.id, NewTask(title=f"t{i}", progress=i * 10))).id for i in range(3)]
    return created, task_ids


async def test_delete_removes_the_project_and_its_tasks(
    projects: ProjectService,
    tasks: TaskService,
    memory_uow: MemoryUnitOfWork,
    publisher: InMemoryEventPublisher,
) -> None:
    created, task_ids = await _project_with_tasks(projects, tasks)
    publisher.clear()

    await projects.delete(ALICE, created.id, expected_version=(await projects.get(ALICE, created.id)).version)

    with pytest.raises(NotFound):
        await projects.get(ALICE, created.id)
    assert (await projects.list(ADMIN, FIRST_PAGE)).total == 0
    for task_id in task_ids:
        assert await memory_uow.tasks.get(task_id) is None
        with pytest.raises(NotFound):
            await tasks.get(ALICE, task_id)
    (event,) = publisher.history
    assert event.name == ev.PROJECT_DELETED
    assert event.data == {"project_id": created.id, "owner_id": "alice", "tasks_deleted": 3}


async def test_delete_is_all_or_nothing(
    ports: Ports, memory_uow: MemoryUnitOfWork, publisher: InMemoryEventPublisher
) -> None:
    wrapped = WrappedUnitOfWork(memory_uow)
    ports.uow = wrapped
    projects, tasks = ProjectService(ports), TaskService(ports)
    created, task_ids = await _project_with_tasks(projects, tasks)
    before = await projects.get(ALICE, created.id)
    publisher.clear()
    wrapped.failures["tasks.soft_delete_for_project"] = Boom

    with pytest.raises(Boom):
        await projects.delete(ALICE, created.id)

    assert await projects.get(ALICE, created.id) == before
    assert [t.id for t in (await tasks.list(ALICE, created.id, FIRST_PAGE)).items] == task_ids
    assert publisher.history == ()


async def test_delete_refuses_other_members_and_stale_versions(projects: ProjectService) -> None:
    public = await projects.create(ALICE, PUBLIC)
    personal = await projects.create(ALICE, PERSONAL)

    with pytest.raises(Forbidden):
        await projects.delete(BOB, public.id)
    with pytest.raises(NotFound):
        await projects.delete(BOB, personal.id)
    with pytest.raises(PreconditionFailed):
        await projects.delete(ALICE, public.id, expected_version=7)

    assert await projects.get(ALICE, public.id) == public
    assert await projects.get(ALICE, personal.id) == personal


async def test_a_deleted_project_cannot_be_deleted_again(projects: ProjectService) -> None:
    created = await projects.create(ALICE, PERSONAL)
    await projects.delete(ALICE, created.id)

    with pytest.raises(NotFound):
        await projects.delete(ALICE, created.id)
