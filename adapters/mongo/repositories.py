"""Repositories over PyMongo's async collections, honouring the contract in ``domain.ports``.

The soft-delete rule lives in ONE place: ``_MongoRepository._live`` adds
``{"deleted_at": None}`` to every read filter, and ``_conditional_replace`` only ever matches a
live document. Every call runs inside ``translated()`` (driver errors -> domain errors) and
passes the session of the transaction active in the current task, if any (``active_session``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any, Generic, TypeVar

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from adapters.mongo.documents import LIVE, ProjectDocument, TaskDocument, UserDocument, _TrellisDocument
from adapters.mongo.errors import translated
from domain.board import Project, Task
from domain.content import Collection, Post
from domain.errors import Conflict, EmailTaken, NotFound, VersionConflict
from domain.identity import User, normalise_email
from domain.paging import Keyset, KeysetPage, KeysetRequest, Page, PageRequest, Sort, SortValue, keyset_of
from domain.ports import ProjectQuery, ProjectStats, TaskQuery

RawDocument = dict[str, Any]
Filter = dict[str, Any]
SessionProvider = Callable[[], AsyncClientSession | None]

E = TypeVar("E", User, Project, Task, Post, Collection)
D = TypeVar("D", bound=_TrellisDocument)

# Domain sort names that are stored under another name (none today; kept explicit so a
# rename in the documents cannot silently break sorting).
_SORT_FIELDS: Mapping[str, str] = {"id": "_id"}


class _MongoRepository(Generic[E, D]):
    """Shared plumbing: live filter, session, paging, conditional replace."""

    document: type[D]

    def __init__(self, database: AsyncDatabase[RawDocument], session: SessionProvider) -> None:
        self._collection: AsyncCollection[RawDocument] = database[self.document.collection_name]
        self._session = session

    # -- translation ----------------------------------------------------------------------

    def _to_document(self, entity: E) -> D:
        document: D = self.document.from_domain(entity)  # each document class translates its entity
        return document

    def _to_raw(self, entity: E) -> RawDocument:
        return self._to_document(entity).to_bson()

    def _to_entity(self, raw: RawDocument) -> E:
        entity: E = self.document.from_bson(raw).to_domain()
        return entity

    # -- the one place that hides soft-deleted documents ------------------------------------

    @staticmethod
    def _live(query: Filter | None = None) -> Filter:
        return {**(query or {}), **LIVE}

    # -- operations -------------------------------------------------------------------------

    async def _insert(self, entity: E) -> None:
        with translated():
            await self._collection.insert_one(self._to_raw(entity), session=self._session())

    async def _find_one(self, query: Filter) -> E | None:
        with translated():
            raw = await self._collection.find_one(self._live(query), session=self._session())
        return None if raw is None else self._to_entity(raw)

    async def get(self, entity_id: str) -> E | None:
        return await self._find_one({"_id": entity_id})

    async def _page(self, query: Filter, page: PageRequest) -> Page[E]:
        live = self._live(query)
        field = _SORT_FIELDS.get(page.sort.field, page.sort.field)
        order = [(field, DESCENDING if page.sort.descending else ASCENDING)]
        if field != "_id":
            order.append(("_id", ASCENDING))  # ties broken by id, ascending: pages never overlap
        session = self._session()
        with translated():
            total = await self._collection.count_documents(live, session=session)
            cursor = self._collection.find(live, session=session).sort(order).skip(page.offset).limit(page.size)
            raws = await cursor.to_list()
        return Page(items=[self._to_entity(raw) for raw in raws], total=total, page=page.page, size=page.size)

    async def _purge_deleted(self, deleted_before: datetime) -> int:
        """Remove for good what was soft-deleted before ``deleted_before`` (maintenance, no session)."""
        with translated():
            result = await self._collection.delete_many({"deleted_at": {"$ne": None, "$lt": _aware(deleted_before)}})
        return result.deleted_count

    async def _keyset_page(self, query: Filter, page: KeysetRequest) -> KeysetPage[E]:
        """``size + 1`` documents from the anchor on (the extra one says whether a next page
        exists): a range query on (filters, sort field, ``_id``), never a skip, never a count."""
        order = sort_spec(page.sort)
        conditions = keyset_filter(self._live(query), page.sort, page.after)
        with translated():
            cursor = self._collection.find(conditions, session=self._session()).sort(order).limit(page.size + 1)
            raws = await cursor.to_list()
        return keyset_page([self._to_entity(raw) for raw in raws], page)

    async def _conditional_replace(self, entity: E, expected_version: int) -> E:
        """Store ``entity`` only if the stored live copy still has ``expected_version``.

        One atomic ``replace_one`` filtered on ``_id`` + version + live; when it matches
        nothing, a second read tells a stale version (VersionConflict) from a missing or
        deleted record (NotFound).
        """
        stored = self._to_document(entity)
        stored.version = expected_version + 1
        raw: RawDocument = stored.to_bson()
        session = self._session()
        with translated():
            result = await self._collection.replace_one(
                self._live({"_id": entity.id, "version": expected_version}), raw, session=session
            )
            if result.matched_count == 0:
                current = await self._collection.find_one(
                    self._live({"_id": entity.id}), {"version": 1}, session=session
                )
                if current is None:
                    raise NotFound()
                raise VersionConflict()
        return self._to_entity(raw)


class MongoUserRepository(_MongoRepository[User, UserDocument]):
    document = UserDocument

    async def add(self, user: User) -> None:
        try:
            await self._insert(user)
        except DuplicateKeyError as error:
            raise _duplicate(error) from error

    async def get_by_email(self, email: str) -> User | None:
        return await self._find_one({"email": normalise_email(email)})

    async def get_by_identity(self, issuer: str, subject: str) -> User | None:
        return await self._find_one({"identities": {"$elemMatch": {"issuer": issuer, "subject": subject}}})

    async def update(self, user: User, expected_version: int) -> User:
        try:
            return await self._conditional_replace(user, expected_version)
        except DuplicateKeyError as error:
            raise _duplicate(error) from error

    async def list(self, page: PageRequest) -> Page[User]:
        return await self._page({}, page)


class MongoProjectRepository(_MongoRepository[Project, ProjectDocument]):
    document = ProjectDocument

    async def add(self, project: Project) -> None:
        try:
            await self._insert(project)
        except DuplicateKeyError as error:
            raise _duplicate(error) from error

    async def update(self, project: Project, expected_version: int) -> Project:
        return await self._conditional_replace(project, expected_version)

    async def list(self, query: ProjectQuery, page: PageRequest) -> Page[Project]:
        return await self._page(project_filter(query), page)

    async def list_keyset(self, query: ProjectQuery, page: KeysetRequest) -> KeysetPage[Project]:
        return await self._keyset_page(project_filter(query), page)

    async def purge_deleted(self, deleted_before: datetime) -> tuple[str, ...]:
        doomed = {"deleted_at": {"$ne": None, "$lt": _aware(deleted_before)}}
        with translated():
            ids = [str(raw["_id"]) for raw in await self._collection.find(doomed, {"_id": 1}).to_list()]
            if ids:
                await self._collection.delete_many({"_id": {"$in": ids}, **doomed})
        return tuple(ids)


def project_filter(query: ProjectQuery) -> Filter:
    conditions: Filter = {}
    if query.viewer_id is not None:
        conditions["$or"] = [{"owner_id": query.viewer_id}, {"visibility": "public"}]
    if query.visibility is not None:
        conditions["visibility"] = query.visibility.value
    if query.owner_id is not None:
        conditions["owner_id"] = query.owner_id
    if query.q:
        conditions["title"] = {"$regex": re.escape(query.q), "$options": "i"}
    return conditions


class MongoTaskRepository(_MongoRepository[Task, TaskDocument]):
    document = TaskDocument

    async def add(self, task: Task) -> None:
        try:
            await self._insert(task)
        except DuplicateKeyError as error:
            raise _duplicate(error) from error

    async def update(self, task: Task, expected_version: int) -> Task:
        return await self._conditional_replace(task, expected_version)

    async def list(self, query: TaskQuery, page: PageRequest) -> Page[Task]:
        return await self._page(task_filter(query), page)

    async def list_keyset(self, query: TaskQuery, page: KeysetRequest) -> KeysetPage[Task]:
        return await self._keyset_page(task_filter(query), page)

    async def progress_totals(self, project_id: str) -> tuple[int, int]:
        pipeline: list[Filter] = [
            {"$match": self._live({"project_id": project_id})},
            {"$group": {"_id": None, "count": {"$sum": 1}, "total": {"$sum": "$progress"}}},
        ]
        with translated():
            cursor = await self._collection.aggregate(pipeline, session=self._session())
            rows = await cursor.to_list()
        if not rows:
            return 0, 0
        return int(rows[0]["count"]), int(rows[0]["total"])

    async def soft_delete_for_project(self, project_id: str, at: datetime) -> int:
        marker = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        with translated():
            result = await self._collection.update_many(
                self._live({"project_id": project_id}),
                {"$set": {"deleted_at": marker}, "$inc": {"version": 1}},
                session=self._session(),
            )
        return result.modified_count

    async def stats_for_projects(self, project_ids: Sequence[str]) -> dict[str, ProjectStats]:
        """One aggregation for the whole page: live tasks of the ids (the project + live index),
        counted per (project, tag), then folded per project."""
        wanted = list(dict.fromkeys(project_ids))
        if not wanted:
            return {}
        pipeline: list[Filter] = [
            {"$match": self._live({"project_id": {"$in": wanted}})},
            {
                "$group": {
                    "_id": {"project": "$project_id", "tag": "$tag"},
                    "count": {"$sum": 1},
                    "completed": {"$sum": {"$cond": [{"$gte": ["$progress", 100]}, 1, 0]}},
                }
            },
            {
                "$group": {
                    "_id": "$_id.project",
                    "task_count": {"$sum": "$count"},
                    "completed": {"$sum": "$completed"},
                    "tags": {"$push": {"tag": "$_id.tag", "count": "$count"}},
                }
            },
        ]
        with translated():
            cursor = await self._collection.aggregate(pipeline, session=self._session())
            rows = await cursor.to_list()
        stats = {project_id: ProjectStats() for project_id in wanted}
        for row in rows:
            by_tag = {str(t["tag"]): int(t["count"]) for t in row["tags"] if t.get("tag") is not None}
            stats[str(row["_id"])] = ProjectStats(
                task_count=int(row["task_count"]), completed=int(row["completed"]), by_tag=by_tag
            )
        return stats

    async def purge_deleted(self, deleted_before: datetime) -> int:
        with translated():
            result = await self._collection.delete_many({"deleted_at": {"$ne": None, "$lt": _aware(deleted_before)}})
        return result.deleted_count


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def task_filter(query: TaskQuery) -> Filter:
    conditions: Filter = {"project_id": query.project_id}
    if query.tag is not None:
        conditions["tag"] = query.tag
    return conditions


def sort_spec(sort: Sort) -> list[tuple[str, int]]:
    """The list order: the sort field, then ``_id`` ascending (ties never straddle pages)."""
    field = _SORT_FIELDS.get(sort.field, sort.field)
    order = [(field, DESCENDING if sort.descending else ASCENDING)]
    if field != "_id":
        order.append(("_id", ASCENDING))
    return order


def keyset_filter(base: Filter, sort: Sort, anchor: Keyset | None) -> Filter:
    """``base`` restricted to what comes strictly after ``anchor`` in ``sort`` order.

    A rooted ``$or`` of self-contained branches (each repeats ``base``), so each branch is one
    index range — (filters, field > v), (filters, field = v, _id > id), (filters, field = null)
    — already in sort order, and the server merges them (SORT_MERGE) instead of sorting.
    MongoDB sorts null before every value, which is the contract's None placement; ``$gt`` and
    ``$lt`` compare within one BSON type, so they never match null.
    """
    if anchor is None:
        return base
    field = _SORT_FIELDS.get(sort.field, sort.field)
    value = _bson_value(anchor.value)
    branches: list[Filter]
    if value is None:
        branches = [{field: None, "_id": {"$gt": anchor.id}}]
        if not sort.descending:
            branches.append({field: {"$ne": None}})
    else:
        branches = [
            {field: {"$lt" if sort.descending else "$gt": value}},
            {field: value, "_id": {"$gt": anchor.id}},
        ]
        if sort.descending:
            branches.append({field: None})
    return {"$or": [_both(base, branch) for branch in branches]}


def _both(base: Filter, extra: Filter) -> Filter:
    """Every condition of both (a field in both, e.g. ``tag`` filtered and sorted on, gets both)."""
    merged = dict(base)
    for key, condition in extra.items():
        if key in merged:
            merged["$and"] = [*merged.get("$and", []), {key: condition}]
        else:
            merged[key] = condition
    return merged


def keyset_page(entities: list[E], page: KeysetRequest) -> KeysetPage[E]:
    """The first ``size`` of ``size + 1`` fetched entities, and where the next page starts."""
    items = entities[: max(page.size, 0)]
    more = len(entities) > len(items) and bool(items)
    return KeysetPage(items=items, size=page.size, next=keyset_of(items[-1], page.sort) if more else None)


def _bson_value(value: SortValue) -> Any:
    """A sort value as stored: dates are midnight-UTC datetimes, datetimes are UTC."""
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, date):
        return datetime.combine(value, time.min, tzinfo=UTC)
    return value


def _duplicate(error: DuplicateKeyError) -> Conflict:
    details = error.details or {}
    pattern = details.get("keyPattern") or {}
    if "email" in pattern or "email" in str(details.get("errmsg", "")):
        return EmailTaken()
    return Conflict("A record with this id already exists.")
