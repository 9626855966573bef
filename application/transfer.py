"""Import tasks into a project from a file (as a job); export a project's tasks (a stream, or a job).

The uploaded file is spooled into the ``BlobStore`` under ``imports/<id>`` (so the API and the
workers share nothing but the store) and read back from it as a stream by the job; the spool is
deleted once the job has its outcome (success, a failure worth no retry, or its last attempt),
never between retries. ``expire`` sweeps spools a job never got to (a timed-out last attempt).

Export: a project with at most ``export_inline_max_tasks`` live tasks is streamed in the
response; a larger one (or any, when the client asks) becomes an ``tasks.export`` job that
writes ``exports/<job id>.<format>`` into the store; its result names the download route.
Export files expire after ``export_retention`` (``expire``, a scheduled job).

Import modes:
- ``atomic`` (default): all rows or none. Two streaming passes over the file: the first
  validates every row (constant memory); only when no row has an error does the second pass
  write them all inside ONE unit-of-work transaction, so a failure midway (a store error, a
  worker stopped) leaves nothing behind.
- ``partial``: valid rows are kept, invalid ones reported; written in transactions of
  ``BATCH`` rows, so a crash keeps the batches committed before it.
Either way the project's progress is recomputed once at the end, and the result is
``{"accepted", "rejected", "error_count", "errors": [{"line", "field", "message"}, …]}``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from application.common import EventBuffer, Ports
from application.tasks import recompute_progress
from domain import events as ev
from domain.board import Project, Task, ensure_changeable, ensure_visible
from domain.errors import FieldProblem, NotFound, ValidationFailed
from domain.identity import Principal, Role
from domain.jobs import Job, JobFailed, JobState, ensure_job_visible
from domain.paging import PageRequest, Sort
from domain.ports import BlobStore, BlobTooLarge, JobProgress, JobQueue, TaskQuery
from domain.transfer import (
    FORMATS,
    MAX_REPORTED_ERRORS,
    ExportExpired,
    ExportNotReady,
    ImportRejected,
    ImportTooLarge,
    RowError,
    TaskRow,
    task_row,
    validate_row,
)

logger = logging.getLogger("trellis.transfer")

IMPORT_JOB = "tasks.import"
EXPORT_JOB = "tasks.export"
MODES = ("atomic", "partial")
DELIVERIES = ("auto", "stream", "job")
BATCH = 500
PROGRESS_EVERY = 1000
SPOOL_PREFIX = "imports/"
EXPORT_PREFIX = "exports/"

Rows = AsyncIterator[tuple[int, Mapping[str, Any]]]
#: parses a file (its format, its bytes as a stream, its size): the rows, and the fraction (0..1) read so far
ParseRows = Callable[[str, AsyncIterator[bytes], int], AbstractAsyncContextManager[tuple[Rows, Callable[[], float]]]]
#: writes rows (``domain.transfer.task_row``) as a file of a format: its bytes as a stream
WriteRows = Callable[[str, AsyncIterator[dict[str, str]]], AsyncIterator[bytes]]


@dataclass(frozen=True, slots=True)
class TransferLimits:
    import_max_bytes: int = 20 * 1024 * 1024
    export_inline_max_tasks: int = 5000
    export_max_bytes: int = 10 * 1024**3
    export_retention: timedelta = timedelta(hours=24)
    #: a spool older than this belongs to no job that can still run (swept by ``expire``)
    spool_max_age: timedelta = timedelta(hours=24)
    download_url_seconds: int = 300


@dataclass(frozen=True, slots=True)
class ExportDownload:
    """What ``download`` found: the blob under ``key`` with its file name and media type."""

    key: str
    filename: str
    format: str
    size: int


class TransferService:
    def __init__(self, ports: Ports, queue: JobQueue, blobs: BlobStore, limits: TransferLimits | None = None) -> None:
        self._ports = ports
        self._queue = queue
        self._blobs = blobs
        self.limits = limits or TransferLimits()

    async def check_import(self, principal: Principal, project_id: str, fmt: str | None, mode: str) -> Project:
        """Refuse early what the job would refuse anyway: an invisible or foreign project, a bad mode/format."""
        problems: list[FieldProblem] = []
        if mode not in MODES:
            problems.append(FieldProblem("query.mode", "must be atomic or partial"))
        if fmt not in FORMATS:
            problems.append(FieldProblem("body.file", "must be a .csv, .json or .xml file"))
        project = ensure_changeable(principal, await self._ports.uow.projects.get(project_id))
        if problems:
            raise ValidationFailed(problems)
        return project

    async def start_import(
        self, principal: Principal, project_id: str, fmt: str, mode: str, chunks: AsyncIterator[bytes]
    ) -> Job:
        """Spool the file into the blob store (streamed, at most ``import_max_bytes``), then queue its job."""
        await self.check_import(principal, project_id, fmt, mode)
        key = f"{SPOOL_PREFIX}{self._ports.ids.new_id()}"
        try:
            size = await self._blobs.put(key, chunks, self.limits.import_max_bytes)
        except BlobTooLarge:
            raise ImportTooLarge(
                f"The file is larger than IMPORT_MAX_BYTES ({self.limits.import_max_bytes} bytes)."
            ) from None
        payload = {
            "project_id": project_id,
            "format": fmt,
            "mode": mode,
            "user_id": principal.user_id,
            "roles": sorted(r.value for r in principal.roles),
            "spool_key": key,
            "size": size,
        }
        try:
            return await self._queue.enqueue(IMPORT_JOB, payload, owner_id=principal.user_id)
        except BaseException:
            await self._drop(key)
            raise

    async def run_import(self, job: Job, progress: JobProgress, parse: ParseRows) -> dict[str, Any]:
        """The ``tasks.import`` job. The spool goes once the job has its outcome, not between retries."""
        key = job.payload.get("spool_key")
        if not isinstance(key, str) or not key.startswith(SPOOL_PREFIX):
            raise JobFailed("The job names no uploaded file.", _result(0, [], 0))
        try:
            result = await self._run_import(job, progress, parse)
        except JobFailed:
            await self._drop(key)
            raise
        except Exception:
            if job.attempts >= job.max_attempts:  # the last attempt: no retry will need the file
                await self._drop(key)
            raise
        await self._drop(key)
        return result

    async def _drop(self, key: str) -> None:
        try:
            await self._blobs.delete(key)
        except Exception as error:  # the sweep (``expire``) removes it later
            logger.warning("could not delete %s: %s", key, error)

    @contextlib.asynccontextmanager
    async def _open(
        self, payload: Mapping[str, Any], parse: ParseRows
    ) -> AsyncIterator[tuple[Rows, Callable[[], float]]]:
        try:
            chunks = await self._blobs.read(payload["spool_key"])
        except NotFound:
            raise JobFailed(
                "The uploaded file is gone (it is kept only until its import finishes).", _result(0, [], 0)
            ) from None
        try:
            async with parse(payload["format"], chunks, int(payload["size"])) as opened:
                yield opened
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                with contextlib.suppress(RuntimeError):  # a chunk still being fetched (a cancelled job)
                    await close()

    async def _run_import(self, job: Job, progress: JobProgress, parse: ParseRows) -> dict[str, Any]:
        payload = job.payload
        principal = Principal(user_id=payload["user_id"], roles=frozenset(Role(r) for r in payload["roles"]))
        project_id, mode = payload["project_id"], payload["mode"]
        try:
            ensure_changeable(principal, await self._ports.uow.projects.get(project_id))
        except NotFound:
            raise JobFailed("The project no longer exists.", _result(0, [], 0)) from None
        try:
            if mode == "atomic":
                return await self._atomic(principal, project_id, payload, progress, parse)
            return await self._partial(principal, project_id, payload, progress, parse)
        except ImportRejected as rejected:
            line = [RowError(rejected.line, "file", rejected.message)] if rejected.line else []
            raise JobFailed(rejected.message, _result(0, line, len(line))) from None

    async def _atomic(
        self,
        principal: Principal,
        project_id: str,
        payload: Mapping[str, Any],
        progress: JobProgress,
        parse: ParseRows,
    ) -> dict[str, Any]:
        errors: list[RowError] = []
        error_count = count = 0
        async with self._open(payload, parse) as (rows, fraction):
            async for line, raw in rows:
                _row, problems = validate_row(raw, line)
                count += 1
                if problems:
                    error_count += len(problems)
                    errors.extend(problems[: max(0, MAX_REPORTED_ERRORS - len(errors))])
                if count % PROGRESS_EVERY == 0:
                    await progress(fraction() * 50)
        if error_count:
            raise JobFailed(
                f"{error_count} problem(s) in the file; nothing was imported (mode=atomic).",
                _result(0, errors, error_count, rejected=count),
            )
        if count == 0:
            raise JobFailed("The file has no tasks.", _result(0, [], 0))
        await progress(50)
        uow = self._ports.uow
        buffer = EventBuffer(self._ports, principal.user_id)
        accepted = 0
        async with uow.transaction():
            project = ensure_changeable(principal, await uow.projects.get(project_id))
            async with self._open(payload, parse) as (rows, fraction):
                async for line, raw in rows:
                    row, _ = validate_row(raw, line)
                    if row is None:  # pragma: no cover - the file changed between passes
                        raise JobFailed("The file changed during the import; nothing was imported.")
                    await uow.tasks.add(self._task(project.id, row))
                    accepted += 1
                    if accepted % PROGRESS_EVERY == 0:
                        await progress(50 + fraction() * 49)
            buffer.record(ev.TASK_CREATED, {"project_id": project.id, "imported": accepted}, project_id=project.id)
            await self._recompute(project, buffer)
        await buffer.publish()
        return _result(accepted, [], 0)

    async def _partial(
        self,
        principal: Principal,
        project_id: str,
        payload: Mapping[str, Any],
        progress: JobProgress,
        parse: ParseRows,
    ) -> dict[str, Any]:
        errors: list[RowError] = []
        error_count = rejected = accepted = 0
        batch: list[TaskRow] = []
        async with self._open(payload, parse) as (rows, fraction):
            async for line, raw in rows:
                row, problems = validate_row(raw, line)
                if row is None:
                    rejected += 1
                    error_count += len(problems)
                    errors.extend(problems[: max(0, MAX_REPORTED_ERRORS - len(errors))])
                    continue
                batch.append(row)
                if len(batch) >= BATCH:
                    accepted += await self._write(principal, project_id, batch, recompute=False)
                    batch = []
                    await progress(fraction() * 99)
            accepted += await self._write(principal, project_id, batch, recompute=True)
        return _result(accepted, errors, error_count, rejected=rejected)

    async def _write(self, principal: Principal, project_id: str, rows: list[TaskRow], *, recompute: bool) -> int:
        uow = self._ports.uow
        buffer = EventBuffer(self._ports, principal.user_id)
        async with uow.transaction():
            project = ensure_changeable(principal, await uow.projects.get(project_id))
            for row in rows:
                await uow.tasks.add(self._task(project.id, row))
            if rows:
                buffer.record(ev.TASK_CREATED, {"project_id": project.id, "imported": len(rows)}, project_id=project.id)
            if recompute:
                await self._recompute(project, buffer)
        await buffer.publish()
        return len(rows)

    def _task(self, project_id: str, row: TaskRow) -> Task:
        now = self._ports.clock.now()
        return Task(
            id=self._ports.ids.new_id(),
            project_id=project_id,
            title=row.title,
            description=row.description,
            tag=row.tag,
            progress=row.progress,
            finish_date=row.finish_date,
            created_at=now,
            updated_at=now,
        )

    async def _recompute(self, project: Project, buffer: EventBuffer) -> None:
        await recompute_progress(self._ports.uow, project, buffer)

    # --- export -----------------------------------------------------------------------------

    async def export(
        self, principal: Principal, project_id: str, fmt: str, delivery: str = "auto"
    ) -> Job | AsyncIterator[dict[str, str]]:
        """The rows to stream now (a 404 before anything is sent), or the queued export job: for
        ``delivery=job``, or when the project has more than ``export_inline_max_tasks`` tasks."""
        problems: list[FieldProblem] = []
        if fmt not in FORMATS:
            problems.append(FieldProblem("query.format", "must be csv, json or xml"))
        if delivery not in DELIVERIES:
            problems.append(FieldProblem("query.delivery", "must be auto or job"))
        project = ensure_visible(principal, await self._ports.uow.projects.get(project_id))
        if problems:
            raise ValidationFailed(problems)
        if delivery == "auto":
            count, _ = await self._ports.uow.tasks.progress_totals(project.id)
            if count <= self.limits.export_inline_max_tasks:
                return self._rows(project.id)
        payload = {
            "project_id": project.id,
            "format": fmt,
            "user_id": principal.user_id,
            "roles": sorted(r.value for r in principal.roles),
        }
        return await self._queue.enqueue(EXPORT_JOB, payload, owner_id=principal.user_id)

    async def run_export(self, job: Job, progress: JobProgress, write: WriteRows) -> dict[str, Any]:
        """The ``tasks.export`` job: the project's rows as a file in the store (a retry overwrites it)."""
        payload = job.payload
        principal = Principal(user_id=payload["user_id"], roles=frozenset(Role(r) for r in payload["roles"]))
        project_id, fmt = payload["project_id"], payload["format"]
        try:
            ensure_visible(principal, await self._ports.uow.projects.get(project_id))
        except NotFound:
            raise JobFailed("The project no longer exists.") from None
        total, _ = await self._ports.uow.tasks.progress_totals(project_id)
        written = 0

        async def rows() -> AsyncIterator[dict[str, str]]:
            nonlocal written
            async for row in self._rows(project_id):
                yield row
                written += 1
                if written % PROGRESS_EVERY == 0:
                    await progress(99 * written / max(1, total))

        try:
            size = await self._blobs.put(export_key(job.id, fmt), write(fmt, rows()), self.limits.export_max_bytes)
        except BlobTooLarge:
            raise JobFailed(f"The export is larger than {self.limits.export_max_bytes} bytes.") from None
        expires_at = self._ports.clock.now() + self.limits.export_retention
        return {
            "format": fmt,
            "filename": export_filename(project_id, fmt),
            "tasks": written,
            "size": size,
            "expires_at": expires_at.isoformat(),
        }

    async def download(self, principal: Principal, job_id: str) -> ExportDownload:
        """The finished export of job ``job_id``: 404 unless it is the caller's (or an admin's)
        export job, ``ExportNotReady`` (409) before it succeeded, ``ExportExpired`` (410) once purged."""
        job = ensure_job_visible(principal, await self._queue.get(job_id))
        if job.kind != EXPORT_JOB:
            raise NotFound("The job has no file to download.")
        if job.state is JobState.FAILED:
            raise ExportNotReady("The export failed; there is nothing to download.")
        if job.state is not JobState.SUCCEEDED:
            raise ExportNotReady(f"The export is {job.state.value}; download it once the job has succeeded.")
        fmt = job.payload["format"]
        key = export_key(job.id, fmt)
        size = await self._blobs.size(key)
        if size is None:
            raise ExportExpired("The export file has expired; export the project again.")
        return ExportDownload(key=key, filename=export_filename(job.payload["project_id"], fmt), format=fmt, size=size)

    async def content(self, download: ExportDownload) -> AsyncIterator[bytes]:
        try:
            return await self._blobs.read(download.key)
        except NotFound:
            raise ExportExpired("The export file has expired; export the project again.") from None

    async def download_url(self, download: ExportDownload, content_type: str) -> str | None:
        """A short-lived read-only URL of the file where the store gives one (Azure SAS), else None."""
        return await self._blobs.read_url(
            download.key,
            expires_in_seconds=self.limits.download_url_seconds,
            filename=download.filename,
            content_type=content_type,
        )

    async def expire(self) -> dict[str, Any]:
        """Scheduled: delete export files older than ``export_retention`` and import spools older
        than ``spool_max_age`` (left by a job whose last attempt timed out)."""
        now = self._ports.clock.now()
        exports = await self._sweep(EXPORT_PREFIX, now - self.limits.export_retention)
        spools = await self._sweep(SPOOL_PREFIX, now - self.limits.spool_max_age)
        return {"exports_expired": exports, "spools_removed": spools}

    async def _sweep(self, prefix: str, before: datetime) -> int:
        removed = 0
        async for key in self._blobs.older_than(prefix, before):
            await self._blobs.delete(key)
            removed += 1
        return removed

    async def _rows(self, project_id: str) -> AsyncIterator[dict[str, str]]:
        page_number = 1
        while True:
            page = await self._ports.uow.tasks.list(
                TaskQuery(project_id=project_id), PageRequest(page=page_number, size=100, sort=Sort("created_at"))
            )
            for task in page.items:
                yield task_row(task)
            if page_number >= page.pages:
                return
            page_number += 1


def export_key(job_id: str, fmt: str) -> str:
    return f"{EXPORT_PREFIX}{job_id}.{fmt}"


def export_filename(project_id: str, fmt: str) -> str:
    return f"project-{project_id}.{fmt}"


def _result(accepted: int, errors: list[RowError], error_count: int, rejected: int = 0) -> dict[str, Any]:
    return {
        "accepted": accepted,
        "rejected": rejected,
        "error_count": error_count,
        "errors": [e.as_dict() for e in errors],
    }
