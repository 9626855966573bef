"""MongoDB ``FileRepository``: the ``files`` collection (issue 8).

Listed in ``documents.ALL_DOCUMENTS`` (so Beanie creates its indexes at start-up).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from adapters.mongo.documents import LIVE, _TrellisDocument
from adapters.mongo.errors import translated
from domain.errors import Conflict, NotFound, VersionConflict
from domain.files import FileState, StoredFile


class FileDocument(_TrellisDocument):
    owner_id: str
    name: str
    content_type: str
    size: int
    sha256: str
    storage_key: str
    task_id: str | None = None
    project_id: str | None = None
    post_id: str | None = None
    state: str = FileState.READY.value
    part_size: int = 0

    collection_name: ClassVar[str] = "files"

    class Settings:
        name = "files"
        keep_nulls = True
        indexes: ClassVar[list[IndexModel]] = [
            # the purge of abandoned chunked uploads: live, uploading, oldest first
            IndexModel(
                [("state", ASCENDING), ("created_at", ASCENDING)],
                name="uploading_created",
                partialFilterExpression=LIVE,
            ),
            # files of a task (what a task deletion makes unreachable)
            IndexModel([("task_id", ASCENDING)], name="task"),
        ]

    @classmethod
    def from_domain(cls, stored: StoredFile) -> Self:
        document: Self = cls.model_validate(
            {
                "_id": stored.id,
                "owner_id": stored.owner_id,
                "name": stored.name,
                "content_type": stored.content_type,
                "size": stored.size,
                "sha256": stored.sha256,
                "storage_key": stored.storage_key,
                "task_id": stored.task_id,
                "project_id": stored.project_id,
                "post_id": stored.post_id,
                "state": stored.state.value,
                "part_size": stored.part_size,
                "created_at": stored.created_at,
                "updated_at": stored.updated_at,
                "version": stored.version,
                "deleted_at": stored.deleted_at,
            }
        )
        return document

    def to_domain(self) -> StoredFile:
        return StoredFile(
            id=self.id,
            owner_id=self.owner_id,
            name=self.name,
            content_type=self.content_type,
            size=self.size,
            sha256=self.sha256,
            storage_key=self.storage_key,
            task_id=self.task_id,
            project_id=self.project_id,
            post_id=self.post_id,
            state=FileState(self.state),
            part_size=self.part_size,
            created_at=self.created_at,
            updated_at=self.updated_at,
            version=self.version,
            deleted_at=self.deleted_at,
        )


class MongoFileRepository:
    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self._collection: AsyncCollection[dict[str, Any]] = database[FileDocument.collection_name]

    async def add(self, stored: StoredFile) -> None:
        try:
            with translated():
                await self._collection.insert_one(FileDocument.from_domain(stored).to_bson())
        except DuplicateKeyError:
            raise Conflict("A record with this id already exists.") from None

    async def get(self, file_id: str) -> StoredFile | None:
        with translated():
            raw = await self._collection.find_one({"_id": file_id, **LIVE})
        return None if raw is None else FileDocument.from_bson(raw).to_domain()

    async def update(self, stored: StoredFile, expected_version: int) -> StoredFile:
        document = FileDocument.from_domain(stored)
        document.version = expected_version + 1
        raw = document.to_bson()
        with translated():
            result = await self._collection.replace_one({"_id": stored.id, "version": expected_version, **LIVE}, raw)
            if result.matched_count == 0:
                current = await self._collection.find_one({"_id": stored.id, **LIVE}, {"version": 1})
                if current is None:
                    raise NotFound()
                raise VersionConflict()
        return FileDocument.from_bson(raw).to_domain()

    async def list_stale_uploads(self, started_before: datetime) -> list[StoredFile]:
        if started_before.tzinfo is None:
            started_before = started_before.replace(tzinfo=UTC)
        query = {"state": FileState.UPLOADING.value, "created_at": {"$lt": started_before}, **LIVE}
        with translated():
            raws = await self._collection.find(query).sort([("created_at", ASCENDING), ("_id", ASCENDING)]).to_list()
        return [FileDocument.from_bson(raw).to_domain() for raw in raws]

    async def list_deleted(self, deleted_before: datetime, limit: int) -> list[StoredFile]:
        if limit <= 0:
            return []  # (a MongoDB limit of 0 means no limit)
        if deleted_before.tzinfo is None:
            deleted_before = deleted_before.replace(tzinfo=UTC)
        query = {"deleted_at": {"$ne": None, "$lt": deleted_before}}
        with translated():
            cursor = self._collection.find(query).sort([("deleted_at", ASCENDING), ("_id", ASCENDING)])
            raws = await cursor.limit(limit).to_list()
        return [FileDocument.from_bson(raw).to_domain() for raw in raws]

    async def purge(self, file_id: str) -> bool:
        with translated():
            result = await self._collection.delete_one({"_id": file_id, "deleted_at": {"$ne": None}})
        return result.deleted_count == 1
