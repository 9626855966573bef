"""In-memory repositories: the contract of ``domain.ports`` over a :class:`MemoryStore`.

They copy on the way in and on the way out, so no caller ever holds a stored object. Records
going in are deep-copied; records going out are shallow copies: every field of ``User``,
``Project`` and ``Task`` holds an immutable value (str, datetime, enum, frozenset, tuple, frozen
dataclasses), so a new object with the same field values is as independent as a deep copy, at
a tenth of the cost (the user is read on every authenticated request).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from adapters.memory.keyset import KeysetIndexes
from adapters.memory.store import MemoryStore, R, Table
from domain.board import Project, Task, Visibility
from domain.identity import ExternalIdentity, User, normalise_email
from domain.paging import (
    PROJECT_SORT_FIELDS,
    TASK_SORT_FIELDS,
    USER_SORT_FIELDS,
    KeysetPage,
    KeysetRequest,
    Page,
    PageRequest,
)
from domain.ports import ProjectQuery, ProjectStats, TaskQuery


class MemoryUserRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._table: Table[User] = store.users

    async def add(self, user: User) -> None:
        self._table.insert(_stored_user(user))

    async def get(self, user_id: str) -> User | None:
        return _copy_or_none(self._table.find_live(user_id))

    async def get_by_email(self, email: str) -> User | None:
        wanted = normalise_email(email)
        return _copy_or_none(next((user for user in self._table.live() if user.email == wanted), None))

    async def get_by_identity(self, issuer: str, subject: str) -> User | None:
        wanted = ExternalIdentity(issuer=issuer, subject=subject)
        return _copy_or_none(next((user for user in self._table.live() if wanted in user.identities), None))

    async def update(self, user: User, expected_version: int) -> User:
        record = _stored_user(user)
        self._table.replace(record, expected_version)
        return copy.copy(record)

    async def list(self, page: PageRequest) -> Page[User]:
        return _select(self._table.live(), page, USER_SORT_FIELDS)


class MemoryProjectRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._table: Table[Project] = store.projects
        self._keysets = KeysetIndexes(self._table, PROJECT_SORT_FIELDS)

    async def add(self, project: Project) -> None:
        self._table.insert(copy.deepcopy(project))

    async def get(self, project_id: str) -> Project | None:
        return _copy_or_none(self._table.find_live(project_id))

    async def update(self, project: Project, expected_version: int) -> Project:
        record = copy.deepcopy(project)
        self._table.replace(record, expected_version)
        return copy.copy(record)

    async def list(self, query: ProjectQuery, page: PageRequest) -> Page[Project]:
        unfiltered = query == ProjectQuery(viewer_id=None)
        return self._keysets.list_page(
            page, None if unfiltered else (lambda p: _project_matches(p, query)), self._table.live
        )

    async def list_keyset(self, query: ProjectQuery, page: KeysetRequest) -> KeysetPage[Project]:
        return self._keysets.page(page, lambda p: _project_matches(p, query), self._table.live)

    async def purge_deleted(self, deleted_before: datetime) -> tuple[str, ...]:
        return tuple(self._table.purge(lambda p: p.deleted_at is not None and p.deleted_at < deleted_before))


class MemoryTaskRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._table: Table[Task] = store.tasks
        # a project's tasks are one contiguous run of each index
        self._keysets = KeysetIndexes(self._table, TASK_SORT_FIELDS, partition=_project_of)

    async def add(self, task: Task) -> None:
        self._table.insert(copy.deepcopy(task))

    async def get(self, task_id: str) -> Task | None:
        return _copy_or_none(self._table.find_live(task_id))

    async def update(self, task: Task, expected_version: int) -> Task:
        record = copy.deepcopy(task)
        self._table.replace(record, expected_version)
        return copy.copy(record)

    async def list(self, query: TaskQuery, page: PageRequest) -> Page[Task]:
        # the index's partition is the project: only the tag, if any, is left to filter
        tag = query.tag
        return self._keysets.list_page(
            page, None if tag is None else (lambda t: t.tag == tag), lambda: self._matches(query), part=query.project_id
        )

    async def list_keyset(self, query: TaskQuery, page: KeysetRequest) -> KeysetPage[Task]:
        tag = query.tag
        return self._keysets.page(
            page,
            lambda t: t.project_id == query.project_id and (tag is None or t.tag == tag),
            self._table.live,
            part=query.project_id,
        )

    def _matches(self, query: TaskQuery) -> Iterable[Task]:
        return (
            task
            for task in self._table.live()
            if task.project_id == query.project_id and (query.tag is None or task.tag == query.tag)
        )

    async def progress_totals(self, project_id: str) -> tuple[int, int]:
        progress = [task.progress for task in self._table.live() if task.project_id == project_id]
        return len(progress), sum(progress)

    async def soft_delete_for_project(self, project_id: str, at: datetime) -> int:
        doomed = [task for task in self._table.live() if task.project_id == project_id]
        for task in doomed:
            record = copy.deepcopy(task)
            record.deleted_at = at
            self._table.replace(record, task.version)
        return len(doomed)

    async def stats_for_projects(self, project_ids: Sequence[str]) -> dict[str, ProjectStats]:
        wanted = set(project_ids)
        counts = {project_id: [0, 0] for project_id in wanted}  # [tasks, completed]
        tags: dict[str, dict[str, int]] = {project_id: {} for project_id in wanted}
        for task in self._table.live():
            if task.project_id not in wanted:
                continue
            counts[task.project_id][0] += 1
            counts[task.project_id][1] += task.completed
            if task.tag is not None:
                by_tag = tags[task.project_id]
                by_tag[task.tag] = by_tag.get(task.tag, 0) + 1
        return {
            project_id: ProjectStats(task_count=total, completed=done, by_tag=tags[project_id])
            for project_id, (total, done) in counts.items()
        }

    async def purge_deleted(self, deleted_before: datetime) -> int:
        return len(self._table.purge(lambda t: t.deleted_at is not None and t.deleted_at < deleted_before))


# --- helpers ---------------------------------------------------------------------------------


def _stored_user(user: User) -> User:
    record = copy.deepcopy(user)
    record.email = normalise_email(record.email)  # a caller may have assigned a mixed-case address
    return record


def _project_of(task: Task) -> str:
    return task.project_id


def _copy_or_none(record: R | None) -> R | None:
    return None if record is None else copy.copy(record)


def _project_matches(project: Project, query: ProjectQuery) -> bool:
    if query.viewer_id is not None and not (
        project.owner_id == query.viewer_id or project.visibility == Visibility.PUBLIC
    ):
        return False
    if query.visibility is not None and project.visibility != query.visibility:
        return False
    if query.owner_id is not None and project.owner_id != query.owner_id:
        return False
    return query.q is None or query.q.lower() in project.title.lower()


def _select(records: Iterable[R], page: PageRequest, sortable: frozenset[str]) -> Page[R]:
    """Sort (None first ascending, last descending; ties by id ascending), then page."""
    field = page.sort.field
    if field not in sortable:
        raise ValueError(f"cannot sort by {field!r}; one of {sorted(sortable)}")

    def sort_key(record: R) -> tuple[bool, Any]:
        value = getattr(record, field)
        return (False, None) if value is None else (True, value)

    ordered = sorted(records, key=lambda record: record.id)
    # Python's sort is stable even with reverse=True, so the id order survives within ties.
    ordered.sort(key=sort_key, reverse=page.sort.descending)
    start = max(page.offset, 0)
    items = [copy.copy(record) for record in ordered[start : start + max(page.size, 0)]]
    return Page(items=items, total=len(ordered), page=page.page, size=page.size)
