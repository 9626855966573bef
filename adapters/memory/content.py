"""In-memory post and collection repositories (the contract of ``domain.ports``).

Post visibility for a viewer is decided by reading the post's project from the same store at
query time, exactly as the MongoDB adapter joins with ``$lookup``: a project that turns
personal hides its posts from that moment, in pages and totals alike.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from adapters.memory.keyset import KeysetIndexes
from adapters.memory.store import MemoryStore, R, Table
from domain.board import Project, Visibility
from domain.content import COLLECTION_SORT_FIELDS, POST_SORT_FIELDS, Collection, Post
from domain.paging import KeysetPage, KeysetRequest, Page, PageRequest
from domain.ports import CollectionQuery, PostQuery


class MemoryPostRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._table: Table[Post] = store.posts
        self._projects: Table[Project] = store.projects
        self._keysets = KeysetIndexes(self._table, POST_SORT_FIELDS)

    async def add(self, post: Post) -> None:
        self._table.insert(copy.deepcopy(post))

    async def get(self, post_id: str) -> Post | None:
        found = self._table.find_live(post_id)
        return None if found is None else copy.deepcopy(found)

    async def update(self, post: Post, expected_version: int) -> Post:
        record = copy.deepcopy(post)
        self._table.replace(record, expected_version)
        return copy.deepcopy(record)

    async def list(self, query: PostQuery, page: PageRequest) -> Page[Post]:
        unfiltered = query == PostQuery(viewer_id=None)
        matches = None if unfiltered else (lambda p: self._matches(p, query))
        return self._keysets.list_page(page, matches, self._table.live, copy_out=copy.deepcopy)

    async def list_keyset(self, query: PostQuery, page: KeysetRequest) -> KeysetPage[Post]:
        return self._keysets.page(page, lambda p: self._matches(p, query), self._table.live)

    async def soft_delete_for_project(self, project_id: str, at: datetime) -> int:
        doomed = [post for post in self._table.live() if post.project_id == project_id]
        for post in doomed:
            record = copy.deepcopy(post)
            record.deleted_at = at
            self._table.replace(record, post.version)
        return len(doomed)

    async def purge_deleted(self, deleted_before: datetime) -> int:
        return len(self._table.purge(lambda p: p.deleted_at is not None and p.deleted_at < deleted_before))

    def _matches(self, post: Post, query: PostQuery) -> bool:
        if query.project_id is not None and post.project_id != query.project_id:
            return False
        if query.author_id is not None and post.author_id != query.author_id:
            return False
        if query.ids is not None and post.id not in query.ids:
            return False
        if query.viewer_id is None or post.project_id is None:
            return True
        project = self._projects.find_live(post.project_id)
        return project is not None and (project.visibility == Visibility.PUBLIC or project.owner_id == query.viewer_id)


class MemoryCollectionRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._table: Table[Collection] = store.collections

    async def add(self, collection: Collection) -> None:
        self._table.insert(copy.deepcopy(collection))

    async def get(self, collection_id: str) -> Collection | None:
        found = self._table.find_live(collection_id)
        return None if found is None else copy.deepcopy(found)

    async def update(self, collection: Collection, expected_version: int) -> Collection:
        record = copy.deepcopy(collection)
        self._table.replace(record, expected_version)
        return copy.deepcopy(record)

    async def list(self, query: CollectionQuery, page: PageRequest) -> Page[Collection]:
        matches = (c for c in self._table.live() if query.owner_id is None or c.owner_id == query.owner_id)
        return _select(matches, page, COLLECTION_SORT_FIELDS)

    async def purge_deleted(self, deleted_before: datetime) -> int:
        return len(self._table.purge(lambda c: c.deleted_at is not None and c.deleted_at < deleted_before))


def _select(records: Iterable[R], page: PageRequest, sortable: frozenset[str]) -> Page[R]:
    """Sort (None first ascending, last descending; ties by id ascending), then page."""
    field = page.sort.field
    if field not in sortable:
        raise ValueError(f"cannot sort by {field!r}; one of {sorted(sortable)}")

    def sort_key(record: R) -> tuple[bool, Any]:
        value = getattr(record, field)
        return (False, None) if value is None else (True, value)

    ordered = sorted(records, key=lambda record: record.id)
    ordered.sort(key=sort_key, reverse=page.sort.descending)
    start = max(page.offset, 0)
    items = [copy.deepcopy(record) for record in ordered[start : start + max(page.size, 0)]]
    return Page(items=items, total=len(ordered), page=page.page, size=page.size)
