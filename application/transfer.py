"""Import tasks into a project from a file (as a job), export a project's tasks (as a stream).

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

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from application.common import EventBuffer, Ports
from application.tasks import recompute_progress
from domain import events as ev
from domain.board import Project, Task, ensure_changeable, ensure_visible
from domain.errors import FieldProblem, NotFound, ValidationFailed
from domain.identity import Principal, Role
from domain.jobs import Job, JobFailed
from domain.paging import PageRequest, Sort
from domain.ports import JobProgress, JobQueue, TaskQuery
from domain.transfer import FORMATS, MAX_REPORTED_ERRORS, ImportRejected, RowError, TaskRow, task_row, validate_row

IMPORT_JOB = "tasks.import"
MODES = ("atomic", "partial")
BATCH = 500
PROGRESS_EVERY = 1000

Rows = Iterator[tuple[int, Mapping[str, Any]]]
#: opens the uploaded file: the rows, and the fraction (0..1) of the file read so far
OpenRows = Callable[[Mapping[str, Any]], AbstractContextManager[tuple[Rows, Callable[[], float]]]]


class TransferService:
    def __init__(self, ports: Ports, queue: JobQueue) -> None:
        self._ports = ports
        self._queue = queue

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
        self, principal: Principal, project_id: str, fmt: str, mode: str, source: Mapping[str, Any]
    ) -> Job:
        await self.check_import(principal, project_id, fmt, mode)
        payload = {
            "project_id": project_id,
            "format": fmt,
            "mode": mode,
            "user_id": principal.user_id,
            "roles": sorted(r.value for r in principal.roles),
            **source,
        }
        return await self._queue.enqueue(IMPORT_JOB, payload, owner_id=principal.user_id)

    async def run_import(self, job: Job, progress: JobProgress, open_rows: OpenRows) -> dict[str, Any]:
        payload = job.payload
        principal = Principal(user_id=payload["user_id"], roles=frozenset(Role(r) for r in payload["roles"]))
        project_id, mode = payload["project_id"], payload["mode"]
        try:
            ensure_changeable(principal, await self._ports.uow.projects.get(project_id))
        except NotFound:
            raise JobFailed("The project no longer exists.", _result(0, [], 0)) from None
        try:
            if mode == "atomic":
                return await self._atomic(principal, project_id, payload, progress, open_rows)
            return await self._partial(principal, project_id, payload, progress, open_rows)
        except ImportRejected as rejected:
            line = [RowError(rejected.line, "file", rejected.message)] if rejected.line else []
            raise JobFailed(rejected.message, _result(0, line, len(line))) from None

    async def _atomic(
        self,
        principal: Principal,
        project_id: str,
        payload: Mapping[str, Any],
        progress: JobProgress,
        open_rows: OpenRows,
    ) -> dict[str, Any]:
        errors: list[RowError] = []
        error_count = count = 0
        with open_rows(payload) as (rows, fraction):
            for line, raw in rows:
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
            with open_rows(payload) as (rows, fraction):
                for line, raw in rows:
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
        open_rows: OpenRows,
    ) -> dict[str, Any]:
        errors: list[RowError] = []
        error_count = rejected = accepted = 0
        batch: list[TaskRow] = []
        with open_rows(payload) as (rows, fraction):
            for line, raw in rows:
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

    async def export_rows(self, principal: Principal, project_id: str) -> AsyncIterator[dict[str, str]]:
        """Check visibility now (a 404 before anything is sent); then the rows, page by page."""
        ensure_visible(principal, await self._ports.uow.projects.get(project_id))
        return self._rows(project_id)

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


def _result(accepted: int, errors: list[RowError], error_count: int, rejected: int = 0) -> dict[str, Any]:
    return {
        "accepted": accepted,
        "rejected": rejected,
        "error_count": error_count,
        "errors": [e.as_dict() for e in errors],
    }
