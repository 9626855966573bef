"""SeedService: idempotent demo data, users before projects before tasks."""

from __future__ import annotations

import dataclasses

import pytest

from adapters.memory.hashing import Pbkdf2PasswordHasher
from adapters.memory.unit_of_work import MemoryUnitOfWork
from application.common import Ports
from application.projects import ProjectService
from application.seeding import SeedProject, SeedReport, SeedService, SeedTask, SeedUser
from application.tasks import TaskService
from domain.board import Visibility
from domain.identity import Role
from domain.paging import PageRequest, Sort
from domain.ports import ProjectQuery, TaskQuery
from tests.unit.application.fakes import WrappedUnitOfWork

ALL = PageRequest(page=1, size=100, sort=Sort("created_at"))
BY_TITLE = PageRequest(page=1, size=100, sort=Sort("title"))

USERS = [
    SeedUser("Admin@Example.com", "Admin", "seed-admin-pass-1", frozenset({Role.ADMIN})),
    SeedUser("ada@example.com", "Ada", "seed-ada-pass-22"),
    SeedUser("bob@example.com", "Bob", "seed-bob-pass-333"),
]
PROJECTS = [
    SeedProject(
        "ADA@example.com",
        "Garden",
        Visibility.PUBLIC,
        tasks=(SeedTask("Dig", 100, tag="outside"), SeedTask("Plant", 50), SeedTask("Water")),
    ),
    SeedProject("ada@example.com", "Garden shed", tasks=(SeedTask("Order wood", 20),)),
    SeedProject("bob@example.com", "Garden", tasks=(SeedTask("Dig"),)),  # same title, another owner
]


@pytest.fixture
def wrapped(ports: Ports, memory_uow: MemoryUnitOfWork) -> WrappedUnitOfWork:
    wrapped = WrappedUnitOfWork(memory_uow)
    ports.uow = wrapped
    return wrapped


@pytest.fixture
def seeder(ports: Ports, hasher: Pbkdf2PasswordHasher, wrapped: WrappedUnitOfWork) -> SeedService:
    return SeedService(ports, hasher, ProjectService(ports), TaskService(ports))


def _counts(created: tuple[int, int, int], existing: tuple[int, int, int]) -> SeedReport:
    keys = ("users", "projects", "tasks")
    return SeedReport(created=dict(zip(keys, created, strict=True)), existing=dict(zip(keys, existing, strict=True)))


async def test_first_run_creates_everything(
    seeder: SeedService, memory_uow: MemoryUnitOfWork, hasher: Pbkdf2PasswordHasher
) -> None:
    report = await seeder.seed(USERS, PROJECTS)

    assert report == _counts((3, 3, 5), (0, 0, 0))
    admin = await memory_uow.users.get_by_email("admin@example.com")
    assert admin is not None
    assert admin.roles == frozenset({Role.ADMIN})
    assert admin.password_hash is not None
    assert hasher.verify("seed-admin-pass-1", admin.password_hash)
    ada = await memory_uow.users.get_by_email("ada@example.com")
    assert ada is not None
    gardens = await memory_uow.projects.list(ProjectQuery(viewer_id=None, owner_id=ada.id, q="Garden"), ALL)
    garden = next(p for p in gardens.items if p.title == "Garden")
    assert garden.visibility is Visibility.PUBLIC
    assert garden.progress == 50.0  # (100 + 50 + 0) / 3: seeded through the use cases
    tasks = await memory_uow.tasks.list(TaskQuery(project_id=garden.id), BY_TITLE)
    assert [(t.title, t.progress, t.tag) for t in tasks.items] == [
        ("Dig", 100, "outside"),
        ("Plant", 50, None),
        ("Water", 0, None),
    ]


async def test_second_run_creates_nothing(
    seeder: SeedService, memory_uow: MemoryUnitOfWork, wrapped: WrappedUnitOfWork
) -> None:
    await seeder.seed(USERS, PROJECTS)
    wrapped.calls.clear()

    report = await seeder.seed(USERS, PROJECTS)

    assert report == _counts((0, 0, 0), (3, 3, 5))
    assert not [call for call in wrapped.calls if call.endswith((".add", ".update"))]
    assert (await memory_uow.users.list(ALL)).total == 3
    assert (await memory_uow.projects.list(ProjectQuery(viewer_id=None), ALL)).total == 3


async def test_it_never_overwrites_what_it_finds_and_adds_only_what_is_missing(
    seeder: SeedService, memory_uow: MemoryUnitOfWork
) -> None:
    await seeder.seed(USERS, PROJECTS)
    ada = await memory_uow.users.get_by_email("ada@example.com")
    assert ada is not None
    renamed = await memory_uow.users.update(dataclasses.replace(ada, display_name="Countess"), ada.version)
    more = [dataclasses.replace(PROJECTS[1], tasks=(*PROJECTS[1].tasks, SeedTask("Paint", 10)))]

    report = await seeder.seed(USERS, more)

    assert report == _counts((0, 0, 1), (3, 1, 1))
    assert await memory_uow.users.get(ada.id) == renamed


async def test_users_before_projects_before_tasks(seeder: SeedService, wrapped: WrappedUnitOfWork) -> None:
    await seeder.seed(USERS, PROJECTS)

    adds = [call for call in wrapped.calls if call.endswith(".add")]
    assert adds[:3] == ["users.add"] * 3
    # each project before its own tasks: Garden (3 tasks), Garden shed (1), Bob's Garden (1)
    assert adds[3:] == ["projects.add", *["tasks.add"] * 3, "projects.add", "tasks.add", "projects.add", "tasks.add"]


async def test_a_project_for_an_unknown_owner_is_refused(seeder: SeedService) -> None:
    with pytest.raises(KeyError):
        await seeder.seed(USERS[:1], PROJECTS[:1])
