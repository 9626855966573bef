"""Projects: create, read, list, change and delete, with the visibility rules of the domain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from application.caching import ReadCache
from application.common import EventBuffer, Ports, check_if_match
from domain import events as ev
from domain.board import (
    Project,
    ProjectChanges,
    SiteLocation,
    Visibility,
    apply_project_changes,
    description_problems,
    ensure_can_create,
    ensure_changeable,
    ensure_visible,
    raise_if_problems,
    title_problems,
)
from domain.identity import Principal
from domain.paging import KeysetPage, KeysetRequest, Page, PageRequest
from domain.ports import ProjectQuery, ProjectStats


@dataclass(frozen=True, slots=True)
class NewProject:
    title: str
    description: str = ""
    visibility: Visibility = Visibility.PERSONAL
    finish_date: date | None = None
    site: SiteLocation | None = None


@dataclass(frozen=True, slots=True)
class ProjectListing(Page[Project]):
    """A page of projects and, when asked for, each listed project's task statistics (by id)."""

    stats: Mapping[str, ProjectStats] | None = None


@dataclass(frozen=True, slots=True)
class ProjectKeysetListing(KeysetPage[Project]):
    """A keyset page of projects and, when asked for, each listed project's task statistics."""

    stats: Mapping[str, ProjectStats] | None = None


def project_summary(project: Project) -> dict[str, object]:
    """The minimum a subscriber needs to know about a project after a change."""
    return {
        "project_id": project.id,
        "owner_id": project.owner_id,
        "title": project.title,
        "visibility": project.visibility.value,
        "progress": project.progress,
        "version": project.version,
    }


class ProjectService:
    def __init__(self, ports: Ports, cache: ReadCache | None = None) -> None:
        self._ports = ports
        self._cache = cache or ReadCache(None)

    async def create(self, principal: Principal, new: NewProject) -> Project:
        ensure_can_create(principal)
        problems = title_problems(new.title) + description_problems(new.description)
        if new.site is not None:
            problems += new.site.problems("body.site")
        raise_if_problems(problems)
        now = self._ports.clock.now()
        project = Project(
            id=self._ports.ids.new_id(),
            owner_id=principal.user_id,
            title=new.title.strip(),
            description=new.description,
            visibility=new.visibility,
            finish_date=new.finish_date,
            site=new.site,
            created_at=now,
            updated_at=now,
        )
        await self._ports.uow.projects.add(project)
        buffer = EventBuffer(self._ports, principal.user_id)
        buffer.record(ev.PROJECT_CREATED, project_summary(project), project_id=project.id, user_id=project.owner_id)
        await buffer.publish()
        return project

    async def get(self, principal: Principal, project_id: str) -> Project:
        projects = self._ports.uow.projects
        # The cached record is shared by every viewer; the visibility rule runs on it each time.
        return ensure_visible(principal, await self._cache.project(project_id, lambda: projects.get(project_id)))

    async def list(
        self,
        principal: Principal,
        page: PageRequest,
        visibility: Visibility | None = None,
        q: str | None = None,
        include_stats: bool = False,
    ) -> ProjectListing:
        """With ``include_stats``, the page's task statistics come from ONE extra repository call
        for the whole page (never one per project), computed fresh rather than cached."""
        query = self._query(principal, visibility, q)
        projects = self._ports.uow.projects
        found = await self._cache.project_page(query, page, lambda: projects.list(query, page))
        stats = None
        if include_stats:
            stats = await self._ports.uow.tasks.stats_for_projects([p.id for p in found.items]) if found.items else {}
        return ProjectListing(items=found.items, total=found.total, page=found.page, size=found.size, stats=stats)

    async def list_keyset(
        self,
        principal: Principal,
        page: KeysetRequest,
        visibility: Visibility | None = None,
        q: str | None = None,
        include_stats: bool = False,
    ) -> ProjectKeysetListing:
        """``list`` from a position instead of a page number, without a total."""
        query = self._query(principal, visibility, q)
        projects = self._ports.uow.projects
        found = await self._cache.project_keyset_page(query, page, lambda: projects.list_keyset(query, page))
        stats = None
        if include_stats:
            stats = await self._ports.uow.tasks.stats_for_projects([p.id for p in found.items]) if found.items else {}
        return ProjectKeysetListing(items=found.items, size=found.size, next=found.next, stats=stats)

    @staticmethod
    def _query(principal: Principal, visibility: Visibility | None, q: str | None) -> ProjectQuery:
        return ProjectQuery(
            viewer_id=None if principal.is_admin else principal.user_id,
            visibility=visibility,
            q=q.strip() or None if q is not None else None,
        )

    async def update(
        self,
        principal: Principal,
        project_id: str,
        changes: ProjectChanges,
        expected_version: int | None = None,
    ) -> Project:
        project = ensure_changeable(principal, await self._ports.uow.projects.get(project_id))
        check_if_match(project.version, expected_version)
        read_version = project.version
        was = project.visibility
        apply_project_changes(project, changes, self._ports.clock.now())
        saved = await self._ports.uow.projects.update(project, read_version)
        buffer = EventBuffer(self._ports, principal.user_id)
        data = project_summary(saved) | {"previous_visibility": was.value}
        buffer.record(ev.PROJECT_UPDATED, data, project_id=saved.id, user_id=saved.owner_id)
        await buffer.publish()
        return saved

    async def delete(self, principal: Principal, project_id: str, expected_version: int | None = None) -> None:
        """Soft-delete the project and, in the same transaction, its tasks and posts."""
        uow = self._ports.uow
        project = ensure_changeable(principal, await uow.projects.get(project_id))
        check_if_match(project.version, expected_version)
        now = self._ports.clock.now()
        read_version = project.version
        project.deleted_at = now
        project.updated_at = now
        async with uow.transaction():
            await uow.projects.update(project, read_version)
            removed_tasks = await uow.tasks.soft_delete_for_project(project.id, now)
            await uow.posts.soft_delete_for_project(project.id, now)
        buffer = EventBuffer(self._ports, principal.user_id)
        buffer.record(
            ev.PROJECT_DELETED,
            {"project_id": project.id, "owner_id": project.owner_id, "tasks_deleted": removed_tasks},
            project_id=project.id,
            user_id=project.owner_id,
        )
        await buffer.publish()
