"""Cache-aside reads of projects, tasks and their list pages, invalidated by domain events.

How an entry is keyed (what the viewer may see):

- one project / one task: stored once per record (``project:<id>``), never per viewer. The
  visibility rule (``ensure_visible``, a pure domain function) runs on the cached record on
  every read, exactly as it runs on a loaded one, so a personal project's entry is never served
  to another user.
- a page of projects: keyed by the viewer (``admin`` for admins, who see everything, else the
  user id), the filters, the sort, the page and the size.
- a page of a project's tasks: keyed by project, tag, sort, page and size; served only after
  the project's visibility check (on the cached project) passed.
- a keyset ("cursor") page: keyed like its page/size sibling, with the position it starts
  after (sort value and id) in place of the page number, under the same scopes — so the same
  bump that retires a stale page retires a stale cursor page.

Consistency ("a read after a write never sees stale data"): every key embeds the generations
(see ``domain.ports.Cache``) of the scopes it depends on, read *before* the record is loaded.
The ``CacheInvalidator`` subscribes to the event publisher; a use case awaits ``publish`` after
its commit and before it returns, so the scopes are bumped before the response is sent. A read
that started before the bump either used the old generation (its entry is never read again) or
loaded after the commit (fresh). Scopes:

| scope | bumped by | read by |
|---|---|---|
| ``project:<id>`` | project created/updated/deleted/progress changed | that project's entry |
| ``project-list`` | the same | every viewer's project pages (a public project is in all of them) |
| ``task:<id>`` | task created/updated/completed/deleted | that task's entry |
| ``tasks-of:<project id>`` | task events of the project, project deleted | its task pages |

A task change that moves the project's progress also raises ``project.progress_changed``, which
bumps the project's entry and every project page (progress is shown there).

Failure: a cache that cannot be reached (``DependencyUnavailable``) is a bypass — the read
goes to the repositories and answers as if there were no cache; the observer logs and counts
it. A bump that fails does not fail the write (it already committed): it is reported loudly
and the entry's TTL bounds how long a reader may see the old value.

Values are JSON (standard library): the application layer stays free of msgspec.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from domain import events as ev
from domain.board import Project, SiteLocation, Task, Visibility
from domain.errors import DependencyUnavailable
from domain.events import DomainEvent
from domain.paging import (
    Keyset,
    KeysetPage,
    KeysetRequest,
    Page,
    PageRequest,
    sort_value_from_text,
    sort_value_to_text,
)
from domain.ports import Cache, ProjectQuery, TaskQuery

T = TypeVar("T")

#: bump this when the shape of a cached value changes: old entries are then never read
FORMAT = "1"
PROJECT_LIST_SCOPE = "project-list"


class CacheResult(StrEnum):
    HIT = "hit"
    MISS = "miss"
    BYPASS = "bypass"


class CacheObserver(Protocol):
    """Where the cache reports what happened (logs and metrics live outside the application)."""

    def lookup(self, result: CacheResult, kind: str, error: Exception | None = None) -> None:
        """One cached read: served from the cache, loaded on a miss, or bypassed (``error`` says why)."""

    def invalidation_failed(self, scopes: Sequence[str], error: Exception) -> None:
        """A committed write could not bump its scopes: readers may see the old value until the TTL."""


class _SilentObserver:
    def lookup(self, result: CacheResult, kind: str, error: Exception | None = None) -> None:
        return None

    def invalidation_failed(self, scopes: Sequence[str], error: Exception) -> None:
        return None


def project_scope(project_id: str) -> str:
    return f"project:{project_id}"


def task_scope(task_id: str) -> str:
    return f"task:{task_id}"


def task_list_scope(project_id: str) -> str:
    return f"tasks-of:{project_id}"


class ReadCache:
    """Cache-aside over the ``Cache`` port. ``ReadCache(None)`` reads straight through."""

    def __init__(self, cache: Cache | None, ttl_seconds: int = 60, observer: CacheObserver | None = None) -> None:
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        self._cache = cache
        self._ttl = ttl_seconds
        self._observer: CacheObserver = observer or _SilentObserver()

    async def project(self, project_id: str, load: Callable[[], Awaitable[Project | None]]) -> Project | None:
        return await self._read(
            "project", project_scope(project_id), [project_id], load, _project_to_json, _project_from_json
        )

    async def task(self, task_id: str, load: Callable[[], Awaitable[Task | None]]) -> Task | None:
        return await self._read("task", task_scope(task_id), [task_id], load, _task_to_json, _task_from_json)

    async def project_page(
        self, query: ProjectQuery, page: PageRequest, load: Callable[[], Awaitable[Page[Project]]]
    ) -> Page[Project]:
        viewer = "admin" if query.viewer_id is None else f"u={query.viewer_id}"
        parts = [viewer, f"vis={query.visibility or ''}", f"q={query.q or ''}", f"owner={query.owner_id or ''}"]
        parts += _paging_parts(page)
        found = await self._read(
            "project_list",
            PROJECT_LIST_SCOPE,
            parts,
            load,
            lambda p: _page_to_json(p, _project_to_json),
            lambda raw: _page_from_json(raw, _project_from_json),
        )
        assert found is not None  # a page is never None
        return found

    async def task_page(
        self, query: TaskQuery, page: PageRequest, load: Callable[[], Awaitable[Page[Task]]]
    ) -> Page[Task]:
        parts = [query.project_id, f"tag={query.tag or ''}", *_paging_parts(page)]
        found = await self._read(
            "task_list",
            task_list_scope(query.project_id),
            parts,
            load,
            lambda p: _page_to_json(p, _task_to_json),
            lambda raw: _page_from_json(raw, _task_from_json),
        )
        assert found is not None
        return found

    async def project_keyset_page(
        self, query: ProjectQuery, page: KeysetRequest, load: Callable[[], Awaitable[KeysetPage[Project]]]
    ) -> KeysetPage[Project]:
        viewer = "admin" if query.viewer_id is None else f"u={query.viewer_id}"
        parts = [viewer, f"vis={query.visibility or ''}", f"q={query.q or ''}", f"owner={query.owner_id or ''}"]
        parts += _keyset_parts(page)
        found = await self._read(
            "project_keyset",
            PROJECT_LIST_SCOPE,
            parts,
            load,
            lambda p: _keyset_page_to_json(p, _project_to_json),
            lambda raw: _keyset_page_from_json(raw, _project_from_json),
        )
        assert found is not None
        return found

    async def task_keyset_page(
        self, query: TaskQuery, page: KeysetRequest, load: Callable[[], Awaitable[KeysetPage[Task]]]
    ) -> KeysetPage[Task]:
        parts = [query.project_id, f"tag={query.tag or ''}", *_keyset_parts(page)]
        found = await self._read(
            "task_keyset",
            task_list_scope(query.project_id),
            parts,
            load,
            lambda p: _keyset_page_to_json(p, _task_to_json),
            lambda raw: _keyset_page_from_json(raw, _task_from_json),
        )
        assert found is not None
        return found

    async def invalidate(self, scopes: Sequence[str]) -> None:
        """Bump every scope (after a commit). Never raises: the write already happened."""
        if self._cache is None or not scopes:
            return
        try:
            for scope in scopes:
                await self._cache.bump(scope)
        except DependencyUnavailable as error:
            self._observer.invalidation_failed(scopes, error)

    async def _read(
        self,
        kind: str,
        scope: str,
        parts: list[str],
        load: Callable[[], Awaitable[T | None]],
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
    ) -> T | None:
        cache = self._cache
        if cache is None:
            return await load()
        try:
            # The generation first (in the same step as the entry): data loaded after this point
            # is at least as new as it.
            prefix = ":".join([kind, FORMAT, *(quote(p, safe="") for p in parts)])
            generation, raw = await cache.lookup(scope, prefix)
            key = f"{prefix}:{generation}"
        except DependencyUnavailable as error:
            self._observer.lookup(CacheResult.BYPASS, kind, error)
            return await load()
        if raw is not None:
            try:
                value = decode(json.loads(raw))
            except (ValueError, KeyError, TypeError):
                pass  # an unreadable entry is a miss; the fresh value below replaces it
            else:
                self._observer.lookup(CacheResult.HIT, kind)
                return value
        loaded = await load()
        self._observer.lookup(CacheResult.MISS, kind)
        if loaded is not None:
            try:
                await cache.set(key, json.dumps(encode(loaded), separators=(",", ":")).encode(), self._ttl)
            except DependencyUnavailable as error:
                self._observer.lookup(CacheResult.BYPASS, kind, error)
        return loaded


class CacheInvalidator:
    """Subscribed to the event publisher: turns each domain event into the scopes it makes stale."""

    def __init__(self, cache: ReadCache) -> None:
        self._cache = cache

    async def __call__(self, event: DomainEvent) -> None:
        await self._cache.invalidate(scopes_for(event))


def scopes_for(event: DomainEvent) -> list[str]:
    """The generation scopes a committed event makes stale."""
    project_id = event.project_id or _str(event.data.get("project_id"))
    scopes: list[str] = []
    if event.name.startswith("project."):
        if project_id is not None:
            scopes.append(project_scope(project_id))
            if event.name == ev.PROJECT_DELETED:
                scopes.append(task_list_scope(project_id))
        scopes.append(PROJECT_LIST_SCOPE)
    elif event.name.startswith("task."):
        task_id = _str(event.data.get("task_id"))
        if task_id is not None:
            scopes.append(task_scope(task_id))
        if project_id is not None:
            scopes.append(task_list_scope(project_id))
    return scopes


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _paging_parts(page: PageRequest) -> list[str]:
    return [f"sort={page.sort.render()}", f"p={page.page}", f"s={page.size}"]


def _keyset_parts(page: KeysetRequest) -> list[str]:
    parts = [f"sort={page.sort.render()}", f"s={page.size}"]
    if page.after is None:
        return [*parts, "from-start"]
    kind, text = sort_value_to_text(page.after.value)
    return [*parts, f"after={kind}", text, page.after.id]


# --- JSON codec of the cached records ---------------------------------------------------------


def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _to_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _req_dt(value: str) -> datetime:
    if not isinstance(value, str):
        raise TypeError("a timestamp is required")
    return datetime.fromisoformat(value)


def _to_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value is not None else None


def _project_to_json(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "owner_id": project.owner_id,
        "title": project.title,
        "created_at": _dt(project.created_at),
        "updated_at": _dt(project.updated_at),
        "description": project.description,
        "visibility": project.visibility.value,
        "finish_date": project.finish_date.isoformat() if project.finish_date is not None else None,
        "site": asdict(project.site) if project.site is not None else None,
        "progress": project.progress,
        "version": project.version,
        "deleted_at": _dt(project.deleted_at),
    }


def _project_from_json(raw: dict[str, Any]) -> Project:
    created, updated = _req_dt(raw["created_at"]), _req_dt(raw["updated_at"])
    site = raw["site"]
    return Project(
        id=raw["id"],
        owner_id=raw["owner_id"],
        title=raw["title"],
        created_at=created,
        updated_at=updated,
        description=raw["description"],
        visibility=Visibility(raw["visibility"]),
        finish_date=_to_date(raw["finish_date"]),
        site=SiteLocation(**site) if site is not None else None,
        progress=float(raw["progress"]),
        version=int(raw["version"]),
        deleted_at=_to_dt(raw["deleted_at"]),
    )


def _task_to_json(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "project_id": task.project_id,
        "title": task.title,
        "created_at": _dt(task.created_at),
        "updated_at": _dt(task.updated_at),
        "description": task.description,
        "tag": task.tag,
        "progress": task.progress,
        "finish_date": task.finish_date.isoformat() if task.finish_date is not None else None,
        "version": task.version,
        "deleted_at": _dt(task.deleted_at),
    }


def _task_from_json(raw: dict[str, Any]) -> Task:
    created, updated = _req_dt(raw["created_at"]), _req_dt(raw["updated_at"])
    return Task(
        id=raw["id"],
        project_id=raw["project_id"],
        title=raw["title"],
        created_at=created,
        updated_at=updated,
        description=raw["description"],
        tag=raw["tag"],
        progress=int(raw["progress"]),
        finish_date=_to_date(raw["finish_date"]),
        version=int(raw["version"]),
        deleted_at=_to_dt(raw["deleted_at"]),
    )


def _page_to_json(page: Page[T], item: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    return {"items": [item(i) for i in page.items], "total": page.total, "page": page.page, "size": page.size}


def _page_from_json(raw: dict[str, Any], item: Callable[[dict[str, Any]], T]) -> Page[T]:
    return Page(
        items=[item(i) for i in raw["items"]], total=int(raw["total"]), page=int(raw["page"]), size=int(raw["size"])
    )


def _keyset_page_to_json(page: KeysetPage[T], item: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    position = page.next
    after = None if position is None else [*sort_value_to_text(position.value), position.id]
    return {"items": [item(i) for i in page.items], "size": page.size, "next": after}


def _keyset_page_from_json(raw: dict[str, Any], item: Callable[[dict[str, Any]], T]) -> KeysetPage[T]:
    after = raw["next"]
    position = None if after is None else Keyset(value=sort_value_from_text(after[0], after[1]), id=str(after[2]))
    return KeysetPage(items=[item(i) for i in raw["items"]], size=int(raw["size"]), next=position)
