"""Job status for clients: a job is visible to whoever started it and to admins (else 404)."""

from __future__ import annotations

from application.policy import Action, authorize
from domain.identity import Principal
from domain.jobs import Job, JobState, ensure_job_visible
from domain.paging import Page, PageRequest
from domain.ports import JobQueue


class JobService:
    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue

    async def get(self, principal: Principal, job_id: str) -> Job:
        return ensure_job_visible(principal, await self._queue.get(job_id))

    async def list(self, principal: Principal, state: JobState | None, page: PageRequest) -> Page[Job]:
        """Admins only: every job (``state=failed``: the dead letters), newest first."""
        authorize(principal, Action.JOB_DEAD_LETTERS)
        return await self._queue.list(state, page)

    async def retry(self, principal: Principal, job_id: str) -> Job:
        """Admins only: put a failed job back in the queue."""
        authorize(principal, Action.JOB_DEAD_LETTERS)
        return await self._queue.retry(job_id)
