"""Idempotent seeding: users before projects before tasks, each keyed by its natural key.

Running it twice creates nothing the second time; it never overwrites what it finds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date

from application.common import Ports
from application.projects import NewProject, ProjectService
from application.tasks import NewTask, TaskService
from domain.board import Project, Visibility
from domain.identity import Principal, Role, User, normalise_email
from domain.paging import PageRequest, Sort
from domain.ports import PasswordHasher, ProjectQuery, TaskQuery


@dataclass(frozen=True, slots=True)
class SeedTask:
    title: str
    progress: int = 0
    tag: str | None = None
    finish_date: date | None = None


@dataclass(frozen=True, slots=True)
class SeedProject:
    owner_email: str
    title: str
    visibility: Visibility = Visibility.PERSONAL
    description: str = ""
    tasks: tuple[SeedTask, ...] = ()


@dataclass(frozen=True, slots=True)
class SeedUser:
    email: str
    display_name: str
    password: str
    roles: frozenset[Role] = frozenset({Role.MEMBER})


@dataclass(slots=True)
class SeedReport:
    created: dict[str, int] = field(default_factory=lambda: {"users": 0, "projects": 0, "tasks": 0})
    existing: dict[str, int] = field(default_factory=lambda: {"users": 0, "projects": 0, "tasks": 0})


class SeedService:
    def __init__(self, ports: Ports, hasher: PasswordHasher, projects: ProjectService, tasks: TaskService) -> None:
        self._ports = ports
        self._hasher = hasher
        self._projects = projects
        self._tasks = tasks

    async def seed(self, users: list[SeedUser], projects: list[SeedProject]) -> SeedReport:
        report = SeedReport()
        by_email: dict[str, User] = {}
        for seed_user in users:
            by_email[normalise_email(seed_user.email)] = await self._ensure_user(seed_user, report)
        for seed_project in projects:
            owner = by_email[normalise_email(seed_project.owner_email)]
            project = await self._ensure_project(owner, seed_project, report)
            for seed_task in seed_project.tasks:
                await self._ensure_task(owner.principal, project, seed_task, report)
        return report

    async def _ensure_user(self, seed: SeedUser, report: SeedReport) -> User:
        users = self._ports.uow.users
        found = await users.get_by_email(seed.email)
        if found is not None:
            report.existing["users"] += 1
            return found
        now = self._ports.clock.now()
        user = User(
            id=self._ports.ids.new_id(),
            email=seed.email,
            display_name=seed.display_name,
            roles=seed.roles,
            created_at=now,
            updated_at=now,
            password_hash=await asyncio.to_thread(self._hasher.hash, seed.password),
        )
        await users.add(user)
        report.created["users"] += 1
        return user

    async def _ensure_project(self, owner: User, seed: SeedProject, report: SeedReport) -> Project:
        query = ProjectQuery(viewer_id=None, owner_id=owner.id, q=seed.title)
        page = await self._ports.uow.projects.list(query, PageRequest(page=1, size=100, sort=Sort("created_at")))
        for project in page.items:
            if project.title == seed.title:
                report.existing["projects"] += 1
                return project
        new = NewProject(title=seed.title, description=seed.description, visibility=seed.visibility)
        report.created["projects"] += 1
        return await self._projects.create(owner.principal, new)

    async def _ensure_task(self, owner: Principal, project: Project, seed: SeedTask, report: SeedReport) -> None:
        page = await self._ports.uow.tasks.list(
            TaskQuery(project_id=project.id), PageRequest(page=1, size=100, sort=Sort("created_at"))
        )
        if any(task.title == seed.title for task in page.items):
            report.existing["tasks"] += 1
            return
        new = NewTask(title=seed.title, tag=seed.tag, progress=seed.progress, finish_date=seed.finish_date)
        await self._tasks.create(owner, project.id, new)
        report.created["tasks"] += 1
