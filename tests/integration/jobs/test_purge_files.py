"""The retention purge removes file records with their blobs, on local disk and on Azure Blob
Storage (Azurite); a blob the store fails to delete keeps its record for the next run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.azure.blob import AzureBlobStore
from adapters.local.blob import LocalBlobStore
from adapters.local.sniffing import MagicSniffer
from adapters.memory.clock import FixedClock
from adapters.memory.files import MemoryFileRepository
from adapters.memory.jobs import LogNotifier
from application.files import FileLimits, FileService
from application.maintenance import MaintenanceService
from application.projects import NewProject
from application.tasks import NewTask
from domain.files import StoredFile
from domain.identity import Principal, Role
from domain.ports import BlobStore
from entrypoints.bootstrap import Container, bootstrap
from tests.integration.http.helpers import make_settings
from tests.support.azurite import azurite_connection_string

OWNER = Principal(user_id="owner-1", roles=frozenset({Role.MEMBER}))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(2000)
RETENTION_DAYS = 30


@pytest.fixture(scope="module")
def azurite() -> Iterator[str]:
    with azurite_connection_string() as value:
        yield value


@dataclass(slots=True)
class World:
    container: Container
    clock: FixedClock
    blobs: BlobStore
    records: MemoryFileRepository
    files: FileService
    maintenance: MaintenanceService
    task_id: str

    def with_blobs(self, blobs: BlobStore) -> MaintenanceService:
        """The same records and clock with another blob store (a broken one, in the failure tests)."""
        files = FileService(self.container.ports, self.records, blobs, MagicSniffer(), FileLimits())
        return MaintenanceService(self.container.ports, LogNotifier(), RETENTION_DAYS, files=files)

    async def upload(self, name: str = "plan.png") -> StoredFile:
        async def chunks() -> AsyncIterator[bytes]:
            yield PNG

        pending = await self.files.upload(OWNER, name, chunks(), self.task_id)
        return await self.files.commit(OWNER, pending)


async def azure_store(connection_string: str) -> AzureBlobStore:
    store = AzureBlobStore.from_connection_string(connection_string, f"purge{os.urandom(6).hex()}")
    await store.ensure_container()
    return store


@asynccontextmanager
async def world_on(blobs: BlobStore) -> AsyncIterator[World]:
    clock = FixedClock()
    container = await bootstrap(make_settings(RETENTION_DAYS=str(RETENTION_DAYS)), clock=clock)
    try:
        records = MemoryFileRepository()
        files = FileService(container.ports, records, blobs, MagicSniffer(), FileLimits())
        maintenance = MaintenanceService(container.ports, LogNotifier(), RETENTION_DAYS, files=files)
        project = await container.projects.create(OWNER, NewProject(title="Site"))
        task = await container.tasks.create(OWNER, project.id, NewTask(title="pour"))
        yield World(container, clock, blobs, records, files, maintenance, task.id)
    finally:
        await container.close()


@pytest.fixture
async def local_world(tmp_path: Path) -> AsyncIterator[World]:
    async with world_on(LocalBlobStore(tmp_path / "blobs")) as value:
        yield value


@pytest.fixture
async def azure_world(azurite: str) -> AsyncIterator[World]:
    async with world_on(await azure_store(azurite)) as value:
        yield value


@pytest.fixture(params=["local", "azurite"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    blobs: BlobStore
    if request.param == "local":
        blobs = LocalBlobStore(tmp_path / "blobs")
    else:
        blobs = await azure_store(request.getfixturevalue("azurite"))  # a plain (sync) fixture
    async with world_on(blobs) as value:
        yield value


async def test_old_file_records_and_their_blobs_go_younger_and_live_ones_stay(world: World) -> None:
    old, blob_gone, young, live = [await world.upload(f"{n}.png") for n in ("old", "gone", "young", "live")]
    await world.files.delete(OWNER, old.id)
    await world.files.delete(OWNER, blob_gone.id)
    await world.blobs.delete(blob_gone.storage_key)  # the HTTP delete already removed this one
    world.clock.advance(timedelta(days=20))
    await world.files.delete(OWNER, young.id)
    world.clock.advance(timedelta(days=RETENTION_DAYS - 20 + 1))

    result = await world.maintenance.purge_deleted()

    assert result["files"] == 2
    assert result["blob_failures"] == 0
    assert await world.blobs.size(old.storage_key) is None
    assert await world.blobs.size(young.storage_key) == len(PNG)  # deleted 11 days ago: kept
    assert await world.blobs.size(live.storage_key) == len(PNG)
    assert await world.records.purge(old.id) is False  # the record is gone for good
    assert [f.id for f in await world.records.list_deleted(world.clock.now(), 10)] == [young.id]
    assert (await world.files.get(OWNER, live.id)).id == live.id
    assert (await world.maintenance.purge_deleted())["files"] == 0  # idempotent

    world.clock.advance(timedelta(days=20))
    assert (await world.maintenance.purge_deleted())["files"] == 1
    assert await world.blobs.size(young.storage_key) is None
    assert await world.blobs.size(live.storage_key) == len(PNG)


async def test_a_blob_that_cannot_be_deleted_keeps_its_record_and_the_others_are_purged(
    local_world: World, tmp_path: Path
) -> None:
    """Local disk: a non-empty directory where the blob file should be makes its deletion fail."""
    world = local_world
    stuck, fine = await world.upload("stuck.png"), await world.upload("fine.png")
    for stored in (stuck, fine):
        await world.files.delete(OWNER, stored.id)
    world.clock.advance(timedelta(days=RETENTION_DAYS + 1))
    root = tmp_path / "blobs"
    path = root / stuck.storage_key
    path.unlink()
    path.mkdir()
    (path / "in-the-way").write_bytes(b"x")  # unlink() of a non-empty directory fails

    result = await world.maintenance.purge_deleted()

    assert (result["files"], result["blob_failures"]) == (1, 1)
    assert [f.id for f in await world.records.list_deleted(world.clock.now(), 10)] == [stuck.id]
    assert await world.blobs.size(fine.storage_key) is None
    (path / "in-the-way").unlink()
    path.rmdir()  # the disk is repaired: the next run purges the record it kept
    result = await world.maintenance.purge_deleted()
    assert (result["files"], result["blob_failures"]) == (1, 0)
    assert await world.records.list_deleted(world.clock.now(), 10) == []


async def test_a_blob_store_that_refuses_ends_the_file_purge_and_the_next_run_retries(
    azure_world: World, azurite: str
) -> None:
    """Azurite with a wrong account key: a real refusal by the store (and no retry back-off)."""
    world = azure_world
    first, second = await world.upload("a.png"), await world.upload("b.png")
    for stored in (first, second):
        await world.files.delete(OWNER, stored.id)
    world.clock.advance(timedelta(days=RETENTION_DAYS + 1))
    wrong_key = azurite.replace("AccountKey=", "AccountKey=AAAA", 1)
    refusing = AzureBlobStore.from_connection_string(wrong_key, "anything")

    result = await world.with_blobs(refusing).purge_deleted()

    assert (result["files"], result["blob_failures"]) == (0, 1)
    assert result["tasks"] == 0  # the other records were purged as usual before the files
    assert {f.id for f in await world.records.list_deleted(world.clock.now(), 10)} == {first.id, second.id}
    assert await world.blobs.size(first.storage_key) == len(PNG)
    result = await world.maintenance.purge_deleted()
    assert (result["files"], result["blob_failures"]) == (2, 0)
    assert await world.blobs.size(first.storage_key) is None
    assert await world.blobs.size(second.storage_key) is None
