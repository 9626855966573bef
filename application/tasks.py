"""Tasks: changes that keep their project's derived progress true, in one transaction."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from application.caching import ReadCache
from application.common import EventBuffer, Ports, check_if_match, retry_on_derived_conflict
from domain import events as ev
from domain.board import (
    Project,
    Task,
    TaskChanges,
    apply_task_changes,
    description_problems,
    ensure_changeable,
    ensure_task_deletable,
    ensure_visible,
    progress_from_totals,
    progress_problems,
    raise_if_problems,
    tag_problems,
    title_problems,
)
from domain.errors import NotFound
from domain.identity import Principal
from domain.paging import KeysetPage, KeysetRequest, Page, PageRequest
from domain.ports import TaskQuery, UnitOfWork

T = TypeVar("T")


class ProjectWriters:
    """One task write per project at a time in this process.

    Every task write rewrites its project's derived progress, so two writes to one project's
    tasks always race on the project; on MongoDB the loser's whole transaction aborts
    (WriteConflict) and is re-run. Queueing a process's own writers of a project here makes
    that race one between processes only; ``retry_on_derived_conflict`` still settles those.
    A lock lives while someone holds or waits for it (weak values), so idle projects cost nothing.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def run(self, project_id: str | None, write: Callable[[], Awaitable[T]]) -> T:
        if project_id is None:  # unknown task: the write itself answers 404
            return await write()
        lock = self._locks.get(project_id)
        if lock is None:
            lock = self._locks[project_id] = asyncio.Lock()
        async with lock:
            return await write()


@dataclass(frozen=True, slots=True)
class NewTask:
    title: str
    description: str = ""
    tag: str | None = None
    progress: int = 0
    finish_date: date | None = None


def task_summary(task: Task) -> dict[str, object]:
    return {
        "task_id": task.id,
        "project_id": task.project_id,
        "title": task.title,
        "tag": task.tag,
        "progress": task.progress,
        "completed": task.completed,
        "version": task.version,
    }


class TaskService:
    def __init__(self, ports: Ports, cache: ReadCache | None = None) -> None:
        self._ports = ports
        self._cache = cache or ReadCache(None)
        self._writers = ProjectWriters()

    async def create(self, principal: Principal, project_id: str, new: NewTask) -> Task:
        raise_if_problems(
            title_problems(new.title)
            + description_problems(new.description)
            + tag_problems(new.tag)
            + progress_problems(new.progress)
        )

        async def attempt() -> Task:
            uow = self._ports.uow
            buffer = EventBuffer(self._ports, principal.user_id)
            async with uow.transaction():
                project = ensure_changeable(principal, await uow.projects.get(project_id))
                now = self._ports.clock.now()
                task = Task(
                    id=self._ports.ids.new_id(),
                    project_id=project.id,
                    title=new.title.strip(),
                    description=new.description,
                    tag=new.tag.strip() if new.tag is not None else None,
                    progress=new.progress,
                    finish_date=new.finish_date,
                    created_at=now,
                    updated_at=now,
                )
                await uow.tasks.add(task)
                buffer.record(ev.TASK_CREATED, task_summary(task), project_id=project.id)
                if task.completed:
                    buffer.record(ev.TASK_COMPLETED, task_summary(task), project_id=project.id)
                await recompute_progress(uow, project, buffer)
            await buffer.publish()
            return task

        return await self._writers.run(project_id, lambda: retry_on_derived_conflict(attempt))

    async def get(self, principal: Principal, task_id: str) -> Task:
        uow = self._ports.uow
        task = await self._cache.task(task_id, lambda: uow.tasks.get(task_id))
        if task is None:
            raise NotFound("The task does not exist.")
        try:
            await self._visible_project(principal, task.project_id)
        except NotFound:
            raise NotFound("The task does not exist.") from None
        return task

    async def list(
        self, principal: Principal, project_id: str, page: PageRequest, tag: str | None = None
    ) -> Page[Task]:
        await self._visible_project(principal, project_id)
        query, tasks = TaskQuery(project_id=project_id, tag=tag), self._ports.uow.tasks
        return await self._cache.task_page(query, page, lambda: tasks.list(query, page))

    async def list_keyset(
        self, principal: Principal, project_id: str, page: KeysetRequest, tag: str | None = None
    ) -> KeysetPage[Task]:
        """The same list from a position instead of a page number, without a total."""
        await self._visible_project(principal, project_id)
        query, tasks = TaskQuery(project_id=project_id, tag=tag), self._ports.uow.tasks
        return await self._cache.task_keyset_page(query, page, lambda: tasks.list_keyset(query, page))

    async def _visible_project(self, principal: Principal, project_id: str) -> Project:
        """Read path only (cached); writes load the project inside their transaction."""
        projects = self._ports.uow.projects
        return ensure_visible(principal, await self._cache.project(project_id, lambda: projects.get(project_id)))

    async def update(
        self,
        principal: Principal,
        task_id: str,
        changes: TaskChanges,
        expected_version: int | None = None,
    ) -> Task:
        async def attempt() -> Task:
            uow = self._ports.uow
            buffer = EventBuffer(self._ports, principal.user_id)
            async with uow.transaction():
                task, project = await self._visible_task(principal, task_id)
                ensure_changeable(principal, project)
                check_if_match(task.version, expected_version)
                read_version = task.version
                was_completed = task.completed
                apply_task_changes(task, changes, self._ports.clock.now())
                saved = await uow.tasks.update(task, read_version)
                buffer.record(ev.TASK_UPDATED, task_summary(saved), project_id=project.id)
                if saved.completed and not was_completed:
                    buffer.record(ev.TASK_COMPLETED, task_summary(saved), project_id=project.id)
                await recompute_progress(uow, project, buffer)
            await buffer.publish()
            return saved

        return await self._writers.run(await self._project_of(task_id), lambda: retry_on_derived_conflict(attempt))

    async def delete(self, principal: Principal, task_id: str, expected_version: int | None = None) -> None:
        async def attempt() -> None:
            uow = self._ports.uow
            buffer = EventBuffer(self._ports, principal.user_id)
            async with uow.transaction():
                task, project = await self._visible_task(principal, task_id)
                ensure_changeable(principal, project)
                check_if_match(task.version, expected_version)
                ensure_task_deletable(task)
                read_version = task.version
                now = self._ports.clock.now()
                task.deleted_at = now
                task.updated_at = now
                await uow.tasks.update(task, read_version)
                buffer.record(ev.TASK_DELETED, {"task_id": task.id, "project_id": project.id}, project_id=project.id)
                await recompute_progress(uow, project, buffer)
            await buffer.publish()

        await self._writers.run(await self._project_of(task_id), lambda: retry_on_derived_conflict(attempt))

    async def _project_of(self, task_id: str) -> str | None:
        """The task's project, from the read cache (a task never moves to another project)."""
        uow = self._ports.uow
        task = await self._cache.task(task_id, lambda: uow.tasks.get(task_id))
        return None if task is None else task.project_id

    async def _visible_task(self, principal: Principal, task_id: str) -> tuple[Task, Project]:
        uow = self._ports.uow
        task = await uow.tasks.get(task_id)
        if task is None:
            raise NotFound("The task does not exist.")
        try:
            project = ensure_visible(principal, await uow.projects.get(task.project_id))
        except NotFound:
            raise NotFound("The task does not exist.") from None
        return task, project


async def recompute_progress(uow: UnitOfWork, project: Project, buffer: EventBuffer) -> bool:
    """Derive the project's progress from its live tasks (idempotent; repairs any drift).

    Runs inside the caller's transaction; records ``project.progress_changed`` and returns
    True when the stored progress changed.
    """
    count, total = await uow.tasks.progress_totals(project.id)
    progress = progress_from_totals(count, total)
    if progress == project.progress:
        return False
    read_version = project.version
    previous = project.progress
    project.progress = progress
    project.updated_at = buffer.ports.clock.now()
    saved = await uow.projects.update(project, read_version)
    buffer.record(
        ev.PROJECT_PROGRESS_CHANGED,
        {"project_id": saved.id, "progress": saved.progress, "previous": previous, "version": saved.version},
        project_id=saved.id,
        user_id=saved.owner_id,
    )
    return True
