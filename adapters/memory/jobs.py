"""The in-process job queue (the embedded default): asyncio tasks in the serving process.

Same contract as the Redis queue (``domain.ports.JobQueue``): a job is ``queued`` until a
worker task picks it, ``running`` while its handler runs under the per-job timeout, retried
with exponential backoff when an attempt raises, ``failed`` (a dead letter) once its attempts
are spent, and put back in the queue when the worker stops before it finished. Nothing
survives a restart: that is what the Redis queue is for.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.errors import Conflict, NotFound
from domain.jobs import (
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT_SECONDS,
    Job,
    JobFailed,
    JobState,
    backoff_delay,
    clamp_progress,
)
from domain.paging import Page, PageRequest
from domain.ports import JobHandler, JobObserver, Recipient

logger = logging.getLogger("trellis.notify")

#: how many jobs the in-process queue remembers (succeeded ones are forgotten first)
KEEP_JOBS = 10_000


def _now() -> datetime:
    return datetime.now(UTC)


class MemoryJobQueue:
    def __init__(
        self,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        clock: Callable[[], datetime] = _now,
        observer: JobObserver | None = None,
    ) -> None:
        self._observer = observer
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._handlers: dict[str, JobHandler] = {}
        self._jobs: dict[str, Job] = {}
        self._ready: asyncio.Queue[str] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._running: dict[str, asyncio.Task[None]] = {}
        self._timers: set[asyncio.Task[None]] = set()
        self._stopping = False

    def register(self, kind: str, handler: JobHandler) -> None:
        self._handlers[kind] = handler

    def _queue(self) -> asyncio.Queue[str]:
        if self._ready is None:
            self._ready = asyncio.Queue()
        return self._ready

    async def enqueue(self, kind: str, payload: Mapping[str, Any], owner_id: str | None) -> Job:
        now = self._clock()
        job = Job(
            id=uuid.uuid4().hex,
            kind=kind,
            owner_id=owner_id,
            created_at=now,
            updated_at=now,
            payload=copy.deepcopy(dict(payload)),
            max_attempts=self._max_attempts,
        )
        self._jobs[job.id] = job
        self._forget_old_successes()
        self._queue().put_nowait(job.id)
        return copy.deepcopy(job)

    def _forget_old_successes(self) -> None:
        """Bound the memory: past ``KEEP_JOBS`` jobs, the oldest succeeded ones are forgotten (dead letters stay)."""
        if len(self._jobs) <= KEEP_JOBS:
            return
        done = sorted((j for j in self._jobs.values() if j.state is JobState.SUCCEEDED), key=lambda j: j.updated_at)
        for job in done[: len(self._jobs) - KEEP_JOBS]:
            del self._jobs[job.id]

    async def get(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        return copy.deepcopy(job) if job is not None else None

    async def list(self, state: JobState | None, page: PageRequest) -> Page[Job]:
        matches = [j for j in self._jobs.values() if state is None or j.state is state]
        matches.sort(key=lambda j: (j.created_at, j.id), reverse=True)
        items = [copy.deepcopy(j) for j in matches[page.offset : page.offset + page.size]]
        return Page(items=items, total=len(matches), page=page.page, size=page.size)

    async def retry(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound("The job does not exist.")
        if job.state is not JobState.FAILED:
            raise Conflict("Only a failed job can be retried.")
        job.state, job.attempts, job.progress = JobState.QUEUED, 0, 0
        job.finished_at, job.updated_at = None, self._clock()
        self._queue().put_nowait(job.id)
        return copy.deepcopy(job)

    # --- the worker ---------------------------------------------------------------------

    async def start_worker(self, concurrency: int = 2) -> None:
        if self._workers:
            return
        self._stopping = False
        queue = self._queue()
        self._workers = [asyncio.create_task(self._work(queue)) for _ in range(max(1, concurrency))]

    async def stop_worker(self, grace_seconds: float = 10.0) -> None:
        self._stopping = True
        for timer in list(self._timers):
            timer.cancel()
        running = list(self._running.values())
        if running:
            await asyncio.wait(running, timeout=grace_seconds)
        # cancelling a worker cancels its running job, which goes back in the queue (no worker left to take it)
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers = []

    async def _work(self, queue: asyncio.Queue[str]) -> None:
        while not self._stopping:
            job_id = await queue.get()
            job = self._jobs.get(job_id)
            if job is None or job.state is not JobState.QUEUED:
                continue
            task = asyncio.create_task(self._run(job))
            self._running[job_id] = task
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                raise
            finally:
                self._running.pop(job_id, None)

    async def _run(self, job: Job) -> None:
        handler = self._handlers.get(job.kind)
        job.state, job.attempts = JobState.RUNNING, job.attempts + 1
        job.started_at = job.updated_at = self._clock()

        async def progress(percent: float) -> None:
            before = job.progress
            job.progress = clamp_progress(percent)
            job.updated_at = self._clock()
            if job.progress != before:
                await self._changed(job)

        try:
            await self._changed(job)
            if handler is None:
                raise JobFailed(f"no handler for job kind {job.kind!r}")
            async with asyncio.timeout(self._timeout):
                result = await handler(copy.deepcopy(job), progress)
        except asyncio.CancelledError:  # the worker stops: back in the queue for the next one
            job.state, job.updated_at = JobState.QUEUED, self._clock()
            job.attempts -= 1
            self._queue().put_nowait(job.id)
            raise
        except JobFailed as failure:
            self._fail(job, failure.message, failure.result)
        except TimeoutError:
            self._attempt_failed(job, f"attempt {job.attempts}: timed out after {self._timeout:g} s")
        except Exception as error:
            self._attempt_failed(job, f"attempt {job.attempts}: {type(error).__name__}: {error}")
        else:
            job.state, job.progress, job.result = JobState.SUCCEEDED, 100, result
            job.finished_at = job.updated_at = self._clock()
        await self._changed(job)

    async def _changed(self, job: Job) -> None:
        if self._observer is not None:
            await self._observer(copy.deepcopy(job))

    def _fail(self, job: Job, message: str, result: dict[str, Any] | None = None) -> None:
        job.add_error(message)
        job.state, job.result = JobState.FAILED, result
        job.finished_at = job.updated_at = self._clock()

    def _attempt_failed(self, job: Job, message: str) -> None:
        if job.attempts >= job.max_attempts:
            self._fail(job, message)
            return
        job.add_error(message)
        job.state, job.updated_at = JobState.QUEUED, self._clock()
        timer = asyncio.create_task(self._requeue_later(job.id, backoff_delay(job.attempts, self._backoff)))
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    async def _requeue_later(self, job_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self._queue().put_nowait(job_id)


class MemoryScheduleStore:
    """``ScheduleStore`` for one process: locks and last runs in memory (lost on restart)."""

    def __init__(self, clock: Callable[[], datetime] = _now) -> None:
        self._clock = clock
        self._locks: dict[str, tuple[str, datetime]] = {}
        self._last: dict[str, datetime] = {}
        self._runs: dict[str, int] = {}

    async def acquire(self, name: str, ttl_seconds: float) -> str | None:
        now = self._clock()
        held = self._locks.get(name)
        if held is not None and held[1] > now:
            return None
        token = uuid.uuid4().hex
        self._locks[name] = (token, now + timedelta(seconds=ttl_seconds))
        return token

    async def release(self, name: str, token: str) -> None:
        held = self._locks.get(name)
        if held is not None and held[0] == token:
            del self._locks[name]

    async def last_run(self, name: str) -> datetime | None:
        return self._last.get(name)

    async def mark_run(self, name: str, at: datetime) -> int:
        self._last[name] = at
        self._runs[name] = self._runs.get(name, 0) + 1
        return self._runs[name]


class LogNotifier:
    """``Notifier`` that writes each message to the log (and keeps the last ones, for tests)."""

    def __init__(self, keep: int = 1000) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self._keep = keep

    async def notify(self, recipient: Recipient, subject: str, body: str) -> bool:
        subject = " ".join(subject.split())  # one line: a line break must not forge a log line
        logger.info("notification user_id=%s subject=%s\n%s", recipient.user_id, subject, body)
        self.sent = [*self.sent, (recipient.user_id, subject, body)][-self._keep :]
        return True
