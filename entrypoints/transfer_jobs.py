"""The import and export jobs (``tasks.import``, ``tasks.export``) and the scheduled expiry of
their files: ``application.transfer`` does the work; this module gives it the file formats
(``entrypoints.transfer_formats``) and names the export's download route."""

from __future__ import annotations

from typing import Any

from application.transfer import EXPORT_JOB, IMPORT_JOB, TransferService
from domain.jobs import Job
from domain.ports import JobHandler, JobProgress, JobQueue
from entrypoints.transfer_formats import WRITERS, parsed_rows


def download_path(job_id: str) -> str:
    return f"/api/v1/jobs/{job_id}/download"


def import_handler(transfer: TransferService) -> JobHandler:
    async def handle(job: Job, progress: JobProgress) -> dict[str, Any]:
        return await transfer.run_import(job, progress, parsed_rows)

    return handle


def export_handler(transfer: TransferService) -> JobHandler:
    async def handle(job: Job, progress: JobProgress) -> dict[str, Any]:
        result = await transfer.run_export(job, progress, lambda fmt, rows: WRITERS[fmt](rows))
        return {**result, "download_url": download_path(job.id)}

    return handle


def register_transfer_jobs(queue: JobQueue, transfer: TransferService) -> None:
    queue.register(IMPORT_JOB, import_handler(transfer))
    queue.register(EXPORT_JOB, export_handler(transfer))
