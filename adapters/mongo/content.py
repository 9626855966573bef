"""MongoDB posts and collections (issue 9): their documents and repositories.

Listed in ``documents.ALL_DOCUMENTS`` (Beanie creates the indexes at start-up). The
repositories share ``_MongoRepository`` (the one live filter, sessions, conditional replace).

Post visibility for a viewer is a ``$lookup`` of each post's project at query time: a post is
listed when it has no project, or its project is live and public or owned by the viewer. The
project's visibility is stored only on the project, so a project turning personal hides its
posts from the next query on, and ``count`` runs the same pipeline, so totals match pages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from adapters.mongo.documents import _required_utc, _TrellisDocument, _utc
from adapters.mongo.errors import translated
from adapters.mongo.repositories import Filter, _MongoRepository, keyset_filter, keyset_page, sort_spec
from domain.content import AnalysisStatus, Collection, Post, PostAnalysis
from domain.errors import Conflict
from domain.paging import KeysetPage, KeysetRequest, Page, PageRequest
from domain.ports import CollectionQuery, PostQuery


class AnalysisEmbed(BaseModel):
    status: str
    sentiment: str | None = None
    positive: float | None = None
    neutral: float | None = None
    negative: float | None = None
    language: str | None = None
    key_phrases: list[str] = Field(default_factory=list)
    analyzer: str | None = None
    analyzed_at: datetime | None = None

    @field_validator("analyzed_at", mode="after")
    @classmethod
    def _as_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class PostDocument(_TrellisDocument):
    author_id: str
    project_id: str | None = None
    title: str
    body: str = ""
    analysis: AnalysisEmbed | None = None

    collection_name: ClassVar[str] = "posts"

    class Settings:
        name = "posts"
        keep_nulls = True
        indexes: ClassVar[list[IndexModel]] = [
            # ?project_id= and the cascade when a project is deleted, by the default sort.
            IndexModel(
                [("project_id", ASCENDING), ("deleted_at", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
                name="project_live_created",
            ),
            # the unfiltered list (newest first by default).
            IndexModel(
                [("deleted_at", ASCENDING), ("created_at", DESCENDING), ("_id", ASCENDING)], name="live_created"
            ),
            # an author's posts.
            IndexModel(
                [("author_id", ASCENDING), ("deleted_at", ASCENDING), ("created_at", ASCENDING)],
                name="author_live_created",
            ),
        ]

    @classmethod
    def from_domain(cls, post: Post) -> PostDocument:
        analysis = post.analysis
        return cls(
            _id=post.id,
            author_id=post.author_id,
            project_id=post.project_id,
            title=post.title,
            body=post.body,
            analysis=None
            if analysis is None
            else AnalysisEmbed(
                status=analysis.status.value,
                sentiment=analysis.sentiment,
                positive=analysis.positive,
                neutral=analysis.neutral,
                negative=analysis.negative,
                language=analysis.language,
                key_phrases=list(analysis.key_phrases),
                analyzer=analysis.analyzer,
                analyzed_at=_utc(analysis.analyzed_at),
            ),
            created_at=_required_utc(post.created_at),
            updated_at=_required_utc(post.updated_at),
            version=post.version,
            deleted_at=_utc(post.deleted_at),
        )

    def to_domain(self) -> Post:
        analysis = self.analysis
        return Post(
            id=self.id,
            author_id=self.author_id,
            project_id=self.project_id,
            title=self.title,
            body=self.body,
            analysis=None
            if analysis is None
            else PostAnalysis(
                status=AnalysisStatus(analysis.status),
                sentiment=analysis.sentiment,
                positive=analysis.positive,
                neutral=analysis.neutral,
                negative=analysis.negative,
                language=analysis.language,
                key_phrases=tuple(analysis.key_phrases),
                analyzer=analysis.analyzer,
                analyzed_at=analysis.analyzed_at,
            ),
            created_at=self.created_at,
            updated_at=self.updated_at,
            version=self.version,
            deleted_at=self.deleted_at,
        )


class CollectionDocument(_TrellisDocument):
    owner_id: str
    name: str
    description: str = ""
    post_ids: list[str] = Field(default_factory=list)

    collection_name: ClassVar[str] = "collections"

    class Settings:
        name = "collections"
        keep_nulls = True
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [("owner_id", ASCENDING), ("deleted_at", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
                name="owner_live_created",
            ),
        ]

    @classmethod
    def from_domain(cls, collection: Collection) -> CollectionDocument:
        return cls(
            _id=collection.id,
            owner_id=collection.owner_id,
            name=collection.name,
            description=collection.description,
            post_ids=list(collection.post_ids),
            created_at=_required_utc(collection.created_at),
            updated_at=_required_utc(collection.updated_at),
            version=collection.version,
            deleted_at=_utc(collection.deleted_at),
        )

    def to_domain(self) -> Collection:
        return Collection(
            id=self.id,
            owner_id=self.owner_id,
            name=self.name,
            description=self.description,
            post_ids=list(self.post_ids),
            created_at=self.created_at,
            updated_at=self.updated_at,
            version=self.version,
            deleted_at=self.deleted_at,
        )


class MongoPostRepository(_MongoRepository[Post, PostDocument]):
    document = PostDocument

    async def add(self, post: Post) -> None:
        try:
            await self._insert(post)
        except DuplicateKeyError as error:
            raise Conflict("A record with this id already exists.") from error

    async def update(self, post: Post, expected_version: int) -> Post:
        return await self._conditional_replace(post, expected_version)

    async def list(self, query: PostQuery, page: PageRequest) -> Page[Post]:
        if query.viewer_id is None:
            return await self._page(post_filter(query), page)
        pipeline: list[Filter] = [
            {"$match": self._live(post_filter(query))},
            {"$lookup": {"from": "projects", "localField": "project_id", "foreignField": "_id", "as": "_project"}},
            {"$match": {"$or": [{"project_id": None}, *_visible_to(query.viewer_id)]}},
        ]
        order: dict[str, int] = {page.sort.field: DESCENDING if page.sort.descending else ASCENDING}
        order.setdefault("_id", ASCENDING)  # ties broken by id, ascending: pages never overlap
        rows_pipeline = [
            *pipeline,
            {"$sort": order},
            {"$skip": page.offset},
            {"$limit": page.size},
            {"$project": {"_project": 0}},
        ]
        session = self._session()
        with translated():
            counted = await (await self._collection.aggregate([*pipeline, {"$count": "n"}], session=session)).to_list()
            raws = await (await self._collection.aggregate(rows_pipeline, session=session)).to_list()
        total = int(counted[0]["n"]) if counted else 0
        return Page(items=[self._to_entity(raw) for raw in raws], total=total, page=page.page, size=page.size)

    async def list_keyset(self, query: PostQuery, page: KeysetRequest) -> KeysetPage[Post]:
        """From the anchor on, in index order; for a viewer the visibility join streams after
        the sorted range (``$sort`` right after the first ``$match``, so the server reads the
        index in order and stops at ``$limit`` instead of joining and sorting every post)."""
        conditions = keyset_filter(self._live(post_filter(query)), page.sort, page.after)
        if query.viewer_id is None:
            with translated():
                cursor = self._collection.find(conditions, session=self._session())
                raws = await cursor.sort(sort_spec(page.sort)).limit(page.size + 1).to_list()
            return keyset_page([self._to_entity(raw) for raw in raws], page)
        pipeline: list[Filter] = [
            {"$match": conditions},
            {"$sort": dict(sort_spec(page.sort))},
            {"$lookup": {"from": "projects", "localField": "project_id", "foreignField": "_id", "as": "_project"}},
            {"$match": {"$or": [{"project_id": None}, *_visible_to(query.viewer_id)]}},
            {"$limit": page.size + 1},
            {"$project": {"_project": 0}},
        ]
        with translated():
            raws = await (await self._collection.aggregate(pipeline, session=self._session())).to_list()
        return keyset_page([self._to_entity(raw) for raw in raws], page)

    async def soft_delete_for_project(self, project_id: str, at: datetime) -> int:
        marker = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        with translated():
            result = await self._collection.update_many(
                self._live({"project_id": project_id}),
                {"$set": {"deleted_at": marker}, "$inc": {"version": 1}},
                session=self._session(),
            )
        return result.modified_count

    async def purge_deleted(self, deleted_before: datetime) -> int:
        return await self._purge_deleted(deleted_before)


def _visible_to(viewer_id: str) -> list[Filter]:
    """The joined project (``_project`` holds at most one: ``_id`` is unique) is live, and public
    or the viewer's. Dotted paths rather than ``$elemMatch``, which some servers restrict."""
    live = "_project.deleted_at"
    return [{live: None, "_project.visibility": "public"}, {live: None, "_project.owner_id": viewer_id}]


def post_filter(query: PostQuery) -> Filter:
    conditions: Filter = {}
    if query.project_id is not None:
        conditions["project_id"] = query.project_id
    if query.author_id is not None:
        conditions["author_id"] = query.author_id
    if query.ids is not None:
        conditions["_id"] = {"$in": sorted(query.ids)}
    return conditions


class MongoCollectionRepository(_MongoRepository[Collection, CollectionDocument]):
    document = CollectionDocument

    async def add(self, collection: Collection) -> None:
        try:
            await self._insert(collection)
        except DuplicateKeyError as error:
            raise Conflict("A record with this id already exists.") from error

    async def update(self, collection: Collection, expected_version: int) -> Collection:
        return await self._conditional_replace(collection, expected_version)

    async def list(self, query: CollectionQuery, page: PageRequest) -> Page[Collection]:
        conditions: dict[str, Any] = {} if query.owner_id is None else {"owner_id": query.owner_id}
        return await self._page(conditions, page)

    async def purge_deleted(self, deleted_before: datetime) -> int:
        return await self._purge_deleted(deleted_before)
