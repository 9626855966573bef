"""TransferService with a real blob store (local disk): the import spool's life, the export
decision (stream or job), the export job's file, its download and its expiry."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.local.blob import LocalBlobStore
from adapters.memory.clock import FixedClock
from adapters.memory.jobs import MemoryJobQueue
from application.common import Ports
from application.projects import NewProject, ProjectService
from application.tasks import NewTask, TaskService
from application.transfer import EXPORT_JOB, IMPORT_JOB, TransferLimits, TransferService
from domain.board import Visibility
from domain.errors import NotFound, ValidationFailed
from domain.identity import Principal, Role
from domain.jobs import Job, JobFailed, JobState
from domain.transfer import ExportExpired, ExportNotReady, ImportTooLarge

ALICE = Principal("alice", frozenset({Role.MEMBER}))
BOB = Principal("bob", frozenset({Role.MEMBER}))
ADMIN = Principal("root", frozenset({Role.ADMIN}))


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def queue() -> MemoryJobQueue:
    return MemoryJobQueue()  # no worker started: jobs stay queued until a test runs them


@pytest.fixture
def transfer(ports: Ports, queue: MemoryJobQueue, blobs: LocalBlobStore) -> TransferService:
    limits = TransferLimits(import_max_bytes=1000, export_inline_max_tasks=2, export_retention=timedelta(hours=1))
    return TransferService(ports, queue, blobs, limits)


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def keys(blobs: LocalBlobStore, prefix: str) -> list[str]:
    return [key async for key in blobs.older_than(prefix, FixedClock().now() + timedelta(days=36500))]


async def progress(percent: float) -> None:
    return None


def parse_lines(fmt: str, data: AsyncIterator[bytes], size: int) -> Any:
    """A tiny parser for these tests: one title per line."""

    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[tuple[AsyncIterator[tuple[int, Mapping[str, Any]]], Callable[[], float]]]:
        text = b"".join([chunk async for chunk in data]).decode()

        async def rows() -> AsyncIterator[tuple[int, Mapping[str, Any]]]:
            for number, title in enumerate(text.splitlines(), start=1):
                yield number, {"title": title}

        yield rows(), lambda: 1.0

    return opened()


def broken_parser(fmt: str, data: AsyncIterator[bytes], size: int) -> Any:
    raise RuntimeError("the store hiccupped")


async def project_of(ports: Ports, owner: Principal = ALICE, visibility: Visibility = Visibility.PERSONAL) -> str:
    return (await ProjectService(ports).create(owner, NewProject(title="Site", visibility=visibility))).id


async def queued(queue: MemoryJobQueue, job: Job, attempts: int) -> Job:
    stored = await queue.get(job.id)
    assert stored is not None
    stored.attempts = attempts
    return stored


# --- the import spool ----------------------------------------------------------------------------


async def test_the_upload_is_spooled_in_the_store_and_removed_when_the_import_succeeds(
    ports: Ports, transfer: TransferService, queue: MemoryJobQueue, blobs: LocalBlobStore
) -> None:
    project_id = await project_of(ports)
    job = await transfer.start_import(ALICE, project_id, "csv", "atomic", chunks(b"One\n", b"Two\n"))
    spooled = job.payload["spool_key"]
    assert spooled.startswith("imports/")
    assert await keys(blobs, "imports/") == [spooled]
    assert job.payload["size"] == 8
    result = await transfer.run_import(await queued(queue, job, 1), progress, parse_lines)
    assert result["accepted"] == 2
    assert await keys(blobs, "imports/") == []


async def test_the_spool_stays_between_retries_and_goes_after_the_last_attempt(
    ports: Ports, transfer: TransferService, queue: MemoryJobQueue, blobs: LocalBlobStore
) -> None:
    project_id = await project_of(ports)
    job = await transfer.start_import(ALICE, project_id, "csv", "atomic", chunks(b"One\n"))
    for attempt in (1, 2):
        with pytest.raises(RuntimeError):
            await transfer.run_import(await queued(queue, job, attempt), progress, broken_parser)
        assert await keys(blobs, "imports/") == [job.payload["spool_key"]]
    with pytest.raises(RuntimeError):
        await transfer.run_import(await queued(queue, job, job.max_attempts), progress, broken_parser)
    assert await keys(blobs, "imports/") == []
    with pytest.raises(JobFailed, match="gone"):  # an admin's retry of the dead letter
        await transfer.run_import(await queued(queue, job, 1), progress, parse_lines)


async def test_a_failure_worth_no_retry_removes_the_spool(
    ports: Ports, transfer: TransferService, queue: MemoryJobQueue, blobs: LocalBlobStore
) -> None:
    project_id = await project_of(ports)
    job = await transfer.start_import(ALICE, project_id, "csv", "atomic", chunks(b""))
    with pytest.raises(JobFailed, match="no tasks"):
        await transfer.run_import(await queued(queue, job, 1), progress, parse_lines)
    assert await keys(blobs, "imports/") == []


async def test_a_too_large_upload_is_refused_and_nothing_is_spooled_or_queued(
    ports: Ports, transfer: TransferService, queue: MemoryJobQueue, blobs: LocalBlobStore
) -> None:
    from domain.paging import PageRequest

    project_id = await project_of(ports)
    with pytest.raises(ImportTooLarge):
        await transfer.start_import(ALICE, project_id, "csv", "atomic", chunks(b"x" * 600, b"y" * 600))
    assert await keys(blobs, "imports/") == []
    assert (await queue.list(None, PageRequest(page=1, size=10))).total == 0


async def test_a_queue_failure_removes_the_spool(ports: Ports, blobs: LocalBlobStore) -> None:
    class DownQueue(MemoryJobQueue):
        async def enqueue(self, kind: str, payload: Mapping[str, Any], owner_id: str | None) -> Job:
            raise ConnectionError("redis is down")

    transfer = TransferService(ports, DownQueue(), blobs)
    project_id = await project_of(ports)
    with pytest.raises(ConnectionError):
        await transfer.start_import(ALICE, project_id, "csv", "atomic", chunks(b"One\n"))
    assert await keys(blobs, "imports/") == []


# --- export ----------------------------------------------------------------------------------------


async def test_a_small_project_is_streamed_and_a_large_one_becomes_a_job(
    ports: Ports, transfer: TransferService
) -> None:
    project_id = await project_of(ports)
    tasks = TaskService(ports)
    for n in range(2):
        await tasks.create(ALICE, project_id, NewTask(title=f"T{n}"))
    rows = await transfer.export(ALICE, project_id, "csv")
    assert not isinstance(rows, Job)
    assert sorted([row["title"] async for row in rows]) == ["T0", "T1"]
    forced = await transfer.export(ALICE, project_id, "json", "job")
    assert isinstance(forced, Job)
    assert (forced.kind, forced.owner_id, forced.payload["format"]) == (EXPORT_JOB, "alice", "json")
    await tasks.create(ALICE, project_id, NewTask(title="T2"))  # now above export_inline_max_tasks (2)
    assert isinstance(await transfer.export(ALICE, project_id, "xml"), Job)


async def test_export_refuses_bad_parameters_and_invisible_projects(ports: Ports, transfer: TransferService) -> None:
    project_id = await project_of(ports)
    with pytest.raises(ValidationFailed) as refused:
        await transfer.export(ALICE, project_id, "pdf", "later")
    assert {p.field for p in refused.value.problems} == {"query.format", "query.delivery"}
    with pytest.raises(NotFound):
        await transfer.export(BOB, project_id, "csv", "job")


async def write_lines(fmt: str, rows: AsyncIterator[dict[str, str]]) -> AsyncIterator[bytes]:
    async for row in rows:
        yield f"{row['title']}\n".encode()


async def test_the_export_job_writes_the_file_that_only_its_owner_or_an_admin_downloads(
    ports: Ports, transfer: TransferService, queue: MemoryJobQueue, blobs: LocalBlobStore
) -> None:
    project_id = await project_of(ports, visibility=Visibility.PUBLIC)
    await TaskService(ports).create(ALICE, project_id, NewTask(title="Dig"))
    job = await transfer.export(ALICE, project_id, "csv", "job")
    assert isinstance(job, Job)
    with pytest.raises(ExportNotReady):
        await transfer.download(ALICE, job.id)
    result = await transfer.run_export(await queued(queue, job, 1), progress, write_lines)
    assert (result["tasks"], result["size"], result["filename"]) == (1, 4, f"project-{project_id}.csv")
    assert await keys(blobs, "exports/") == [f"exports/{job.id}.csv"]
    queue._jobs[job.id].state = JobState.SUCCEEDED  # what the queue does with the result
    found = await transfer.download(ALICE, job.id)
    assert b"".join([c async for c in await transfer.content(found)]) == b"Dig\n"
    assert (await transfer.download(ADMIN, job.id)).key == found.key
    with pytest.raises(NotFound):
        await transfer.download(BOB, job.id)  # the project is public, the job is not
    await blobs.delete(found.key)
    with pytest.raises(ExportExpired):
        await transfer.download(ALICE, job.id)


async def test_only_export_jobs_have_a_download(ports: Ports, transfer: TransferService) -> None:
    project_id = await project_of(ports)
    job = await transfer.start_import(ALICE, project_id, "csv", "atomic", chunks(b"One\n"))
    assert job.kind == IMPORT_JOB
    with pytest.raises(NotFound):
        await transfer.download(ALICE, job.id)
    with pytest.raises(NotFound):
        await transfer.download(ALICE, "no-such-job")


async def test_expire_removes_old_exports_and_abandoned_spools_only(
    transfer: TransferService, blobs: LocalBlobStore, clock: FixedClock, tmp_path: Path
) -> None:
    for key in ("exports/old.csv", "exports/new.json", "imports/old", "imports/recent"):
        await blobs.put(key, chunks(b"x"), 10)

    def age(key: str, by: timedelta) -> None:
        when = (clock.now() - by).timestamp()
        os.utime(tmp_path / "blobs" / key, (when, when))

    age("exports/old.csv", timedelta(hours=2))  # retention: 1 hour
    age("exports/new.json", timedelta(minutes=10))
    age("imports/old", timedelta(days=2))  # spool_max_age: 1 day
    age("imports/recent", timedelta(hours=2))
    assert await transfer.expire() == {"exports_expired": 1, "spools_removed": 1}
    assert await keys(blobs, "") == ["exports/new.json", "imports/recent"]
