"""Job status for clients: a job is visible to whoever started it and to admins (else 404).

``JobEvents`` (the queue's ``JobObserver``) announces a job's changes to its owner as domain
events on ``user:<owner>``: ``job.progress`` for each state change (running, queued again) and
for progress, throttled to at most one per whole percent and per ``PROGRESS_INTERVAL`` seconds;
``job.succeeded`` / ``job.failed`` once it ends. A worker process publishes through the same
event publisher (and so, with REDIS_URL, the same Redis streams) as the API.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from application.common import Ports
from application.policy import Action, authorize
from domain import events as ev
from domain.events import DomainEvent
from domain.identity import Principal
from domain.jobs import Job, JobState, ensure_job_visible
from domain.paging import Page, PageRequest
from domain.ports import JobQueue

logger = logging.getLogger("trellis.jobs")

#: seconds between two progress events of one job (state changes are never held back)
PROGRESS_INTERVAL = 0.25
#: jobs whose last announcement is remembered (for throttling); the oldest are forgotten
TRACK_JOBS = 10_000
ERROR_CHARS = 300


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


class JobEvents:
    """The ``JobObserver`` that publishes ``job.*`` events for the job's owner (none without one)."""

    def __init__(
        self,
        ports: Ports,
        interval: float = PROGRESS_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ports = ports
        self._interval = interval
        self._monotonic = monotonic
        #: job id -> (state, progress, when) of its last announcement
        self._last: dict[str, tuple[JobState, int, float]] = {}

    async def __call__(self, job: Job) -> None:
        if job.owner_id is None:
            return
        now = self._monotonic()
        last = self._last.get(job.id)
        progress_step = last is not None and last[0] is job.state
        if progress_step and last is not None and (job.progress == last[1] or now - last[2] < self._interval):
            return  # a progress step: at most one per whole percent and per interval
        if job.state in (JobState.SUCCEEDED, JobState.FAILED):
            self._last.pop(job.id, None)
        else:
            self._last[job.id] = (job.state, job.progress, now)
            if len(self._last) > TRACK_JOBS:
                del self._last[next(iter(self._last))]
        name = {JobState.SUCCEEDED: ev.JOB_SUCCEEDED, JobState.FAILED: ev.JOB_FAILED}.get(job.state, ev.JOB_PROGRESS)
        data: dict[str, Any] = {
            "job_id": job.id,
            "kind": job.kind,
            "state": job.state.value,
            "progress": job.progress,
            "attempts": job.attempts,
        }
        if job.state is not JobState.SUCCEEDED and job.errors:
            data["error"] = job.errors[-1][:ERROR_CHARS]
        event = DomainEvent(
            id=self._ports.ids.new_id(),
            name=name,
            actor_id=job.owner_id,
            at=self._ports.clock.now(),
            user_id=job.owner_id,
            data=data,
        )
        try:
            await self._ports.publisher.publish((event,))
        except Exception:  # a job never fails for its announcement
            logger.warning("job_event_not_published job=%s event=%s", job.id, name, exc_info=True)
