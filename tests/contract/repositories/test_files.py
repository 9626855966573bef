"""The FileRepository contract, run against the memory adapter and MongoDB (the mongo-wire server)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.memory.files import MemoryFileRepository
from adapters.mongo.files import MongoFileRepository
from domain.errors import Conflict, NotFound, VersionConflict
from domain.files import FileState, StoredFile
from domain.ports import FileRepository
from tests.contract.repositories.builders import START
from tests.support.mongo import mongo_database


@asynccontextmanager
async def memory_files() -> AsyncIterator[FileRepository]:
    yield MemoryFileRepository()


@asynccontextmanager
async def mongo_files() -> AsyncIterator[FileRepository]:
    async with mongo_database() as database:
        yield MongoFileRepository(database.database)


FILE_ADAPTERS: dict[str, Callable[[], AbstractAsyncContextManager[FileRepository]]] = {
    "memory": memory_files,
    "mongo": mongo_files,
}


@pytest.fixture(params=list(FILE_ADAPTERS))
async def files(request: pytest.FixtureRequest) -> AsyncIterator[FileRepository]:
    async with FILE_ADAPTERS[request.param]() as repository:
        yield repository


def stored(file_id: str = "f1", **overrides: object) -> StoredFile:
    base = StoredFile(
        id=file_id,
        owner_id="u1",
        name="report ü.pdf",
        content_type="application/pdf",
        size=1234,
        sha256="ab" * 32,
        storage_key=f"u1/p1/{file_id}",
        created_at=START,
        updated_at=START,
        task_id="t1",
        project_id="p1",
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


async def test_round_trip_and_copies(files: FileRepository) -> None:
    original = stored()
    await files.add(original)
    original.name = "changed after add"
    got = await files.get("f1")
    assert got == stored()
    assert got is not None
    got.name = "changed after get"
    assert (await files.get("f1")) == stored()
    assert await files.get("missing") is None


async def test_duplicate_id_is_a_conflict(files: FileRepository) -> None:
    await files.add(stored())
    with pytest.raises(Conflict):
        await files.add(stored())


async def test_conditional_update_and_soft_delete(files: FileRepository) -> None:
    await files.add(stored())
    first = await files.get("f1")
    assert first is not None
    first.name = "renamed.pdf"
    saved = await files.update(first, 1)
    assert saved.version == 2
    assert saved.name == "renamed.pdf"
    with pytest.raises(VersionConflict):
        await files.update(first, 1)
    saved.deleted_at = START + timedelta(minutes=1)
    await files.update(saved, 2)
    assert await files.get("f1") is None
    with pytest.raises(NotFound):
        await files.update(saved, 3)


async def test_stale_uploads_are_listed_oldest_first(files: FileRepository) -> None:
    await files.add(stored("old", state=FileState.UPLOADING, part_size=65536, created_at=START))
    await files.add(stored("new", state=FileState.UPLOADING, created_at=START + timedelta(hours=2)))
    await files.add(stored("done", state=FileState.READY, created_at=START))
    gone = stored("gone", state=FileState.UPLOADING, created_at=START, deleted_at=START)
    await files.add(gone)
    stale = await files.list_stale_uploads(START + timedelta(hours=1))
    assert [f.id for f in stale] == ["old"]
    assert stale[0].part_size == 65536
    assert stale[0].state is FileState.UPLOADING


async def test_deleted_records_are_listed_oldest_deletion_first_and_purged_one_by_one(files: FileRepository) -> None:
    await files.add(stored("late", deleted_at=START + timedelta(days=2)))
    await files.add(stored("early", deleted_at=START + timedelta(days=1)))
    await files.add(stored("young", deleted_at=START + timedelta(days=9)))
    await files.add(stored("live"))
    cutoff = START + timedelta(days=5)
    assert [f.id for f in await files.list_deleted(cutoff, limit=10)] == ["early", "late"]
    assert [f.id for f in await files.list_deleted(cutoff, limit=1)] == ["early"]
    assert await files.list_deleted(cutoff, limit=0) == []
    [early] = await files.list_deleted(cutoff, limit=1)
    assert early.storage_key == "u1/p1/early"  # what the purge needs to delete the blob
    assert await files.purge("early") is True
    assert await files.purge("early") is False  # idempotent
    assert await files.purge("live") is False  # a live record is never purged
    assert await files.get("live") is not None
    assert await files.purge("missing") is False
    assert [f.id for f in await files.list_deleted(cutoff, limit=10)] == ["late"]
