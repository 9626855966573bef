"""``JobQueue`` on Redis through SAQ (Simple Async Queue).

Why SAQ (over arq and taskiq-redis): it is asyncio-native and kept (regular releases), and it
has everything issue 10 asks for in one small library: per-job ``retries`` with
``retry_delay`` + ``retry_backoff`` (exponential, capped), a per-job ``timeout``, cron jobs,
job status and progress stored in Redis, a sweeper that re-queues jobs of a worker that died,
and a graceful ``Worker.stop()`` that waits a grace period and then cancels the running jobs,
which SAQ puts back in the queue (``job.retry("cancelled")``). arq has no per-job progress or
re-queue on graceful stop, and its retries are the handler's business (``Retry``); taskiq
needs a broker, a result backend and a scheduler package wired together for the same.

SAQ runs the job; the status a client reads (``domain.jobs.Job``: state, progress, result,
errors, attempts) is kept next to it under ``<prefix>:job:<id>`` with one sorted set per
state, so the dead letters (``failed``) can be paged and retried after SAQ forgot the job.
The per-job timeout is applied around the handler (a ``TimeoutError`` fails the attempt and
is retried like any other error); SAQ's own timeout is a little longer, as a backstop.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from saq import Job as SaqJob
from saq import Worker
from saq.queue.redis import RedisQueue

from domain.errors import Conflict, DependencyUnavailable, NotFound
from domain.jobs import (
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT_SECONDS,
    Job,
    JobFailed,
    JobState,
    clamp_progress,
)
from domain.paging import Page, PageRequest
from domain.ports import JobHandler, JobObserver

FUNCTION = "trellis_job"
BACKOFF_CAP_SECONDS = 300.0


def create_queue_client(url: str) -> Redis:
    """A client for the queue: no socket timeout (SAQ blocks on dequeue), a short connect timeout."""
    return Redis.from_url(url, socket_connect_timeout=2.0, decode_responses=False)


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _dump(job: Job) -> bytes:
    def at(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return json.dumps(
        {
            "id": job.id,
            "kind": job.kind,
            "owner_id": job.owner_id,
            "created_at": at(job.created_at),
            "updated_at": at(job.updated_at),
            "payload": job.payload,
            "state": job.state.value,
            "progress": job.progress,
            "result": job.result,
            "errors": job.errors,
            "attempts": job.attempts,
            "max_attempts": job.max_attempts,
            "started_at": at(job.started_at),
            "finished_at": at(job.finished_at),
        }
    ).encode()


def _load(raw: bytes | str) -> Job:
    data = json.loads(raw)

    def at(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return Job(
        id=data["id"],
        kind=data["kind"],
        owner_id=data["owner_id"],
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        payload=data["payload"],
        state=JobState(data["state"]),
        progress=data["progress"],
        result=data["result"],
        errors=list(data["errors"]),
        attempts=data["attempts"],
        max_attempts=data["max_attempts"],
        started_at=at(data["started_at"]),
        finished_at=at(data["finished_at"]),
    )


class SaqJobQueue:
    def __init__(
        self,
        redis: Redis,
        *,
        name: str = "trellis",
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        status_ttl_seconds: int = 30 * 24 * 3600,
        install_signal_handlers: bool = True,
        observer: JobObserver | None = None,
    ) -> None:
        self._redis = redis
        self._observer = observer

        self._queue = RedisQueue(redis, name=name)
        self._prefix = f"trellis:jobs:{name}"
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._timeout = timeout_seconds
        self._ttl = status_ttl_seconds
        self._signals = install_signal_handlers
        self._handlers: dict[str, JobHandler] = {}
        self._worker: Worker[Any] | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[Any]] = set()

    # --- the status store -------------------------------------------------------------------

    def _key(self, job_id: str) -> str:
        return f"{self._prefix}:job:{job_id}"

    def _state_key(self, state: JobState | None) -> str:
        return f"{self._prefix}:state:{state.value if state else 'all'}"

    async def _save(self, job: Job, previous: JobState | None) -> None:
        score = job.created_at.timestamp()
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(self._key(job.id), _dump(job), ex=self._ttl)
                if previous is not None and previous is not job.state:
                    pipe.zrem(self._state_key(previous), job.id)
                pipe.zadd(self._state_key(job.state), {job.id: score})
                pipe.zadd(self._state_key(None), {job.id: score})
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc

    async def _load(self, job_id: str) -> Job | None:
        try:
            raw = await self._redis.get(self._key(job_id))
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc
        return _load(raw) if raw is not None else None

    async def _submit(self, job: Job) -> None:
        saq_job = SaqJob(
            function=FUNCTION,
            kwargs={"job_id": job.id},
            key=uuid.uuid4().hex,
            retries=job.max_attempts,
            retry_delay=self._backoff,
            retry_backoff=BACKOFF_CAP_SECONDS,
            timeout=int(self._timeout) + 5,
        )
        try:
            await self._queue.enqueue(saq_job)
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc

    # --- the port -------------------------------------------------------------------------

    def register(self, kind: str, handler: JobHandler) -> None:
        self._handlers[kind] = handler

    async def enqueue(self, kind: str, payload: Mapping[str, Any], owner_id: str | None) -> Job:
        now = _now()
        job = Job(
            id=uuid.uuid4().hex,
            kind=kind,
            owner_id=owner_id,
            created_at=now,
            updated_at=now,
            payload=json.loads(json.dumps(dict(payload))),
            max_attempts=self._max_attempts,
        )
        await self._save(job, None)
        await self._submit(job)
        return job

    async def get(self, job_id: str) -> Job | None:
        return await self._load(job_id)

    async def list(self, state: JobState | None, page: PageRequest) -> Page[Job]:
        key = self._state_key(state)
        try:
            total = int(await self._redis.zcard(key))
            ids = await self._redis.zrevrange(key, page.offset, page.offset + page.size - 1)
            raws = await self._redis.mget([self._key(_text(i)) for i in ids]) if ids else []
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc
        items = [_load(raw) for raw in raws if raw is not None]
        return Page(items=items, total=total, page=page.page, size=page.size)

    async def retry(self, job_id: str) -> Job:
        job = await self._load(job_id)
        if job is None:
            raise NotFound("The job does not exist.")
        if job.state is not JobState.FAILED:
            raise Conflict("Only a failed job can be retried.")
        job.state, job.attempts, job.progress = JobState.QUEUED, 0, 0
        job.finished_at, job.updated_at = None, _now()
        await self._save(job, JobState.FAILED)
        await self._submit(job)
        return job

    # --- the worker -------------------------------------------------------------------------

    async def _perform(self, ctx: dict[str, Any], *, job_id: str) -> None:
        """The one SAQ function: run the handler of job ``job_id`` and keep its status."""
        saq_job: SaqJob = ctx["job"]
        job = await self._load(job_id)
        if job is None:
            return
        current = asyncio.current_task()
        if current is not None:
            self._running.add(current)
        previous = job.state
        job.state, job.attempts = JobState.RUNNING, saq_job.attempts
        job.started_at = job.updated_at = _now()
        await self._save(job, previous)
        await self._changed(job)

        async def progress(percent: float) -> None:
            before = job.progress
            job.progress = clamp_progress(percent)
            job.updated_at = _now()
            await self._save(job, JobState.RUNNING)
            if job.progress != before:
                await self._changed(job)

        try:
            handler = self._handlers.get(job.kind)
            if handler is None:
                raise JobFailed(f"no handler for job kind {job.kind!r}")
            async with asyncio.timeout(self._timeout):
                result = await handler(job, progress)
        except asyncio.CancelledError:  # a stopping worker: SAQ puts the job back in the queue
            job.state, job.updated_at = JobState.QUEUED, _now()
            with contextlib.suppress(Exception):
                await asyncio.shield(self._save(job, JobState.RUNNING))
            raise
        except JobFailed as failure:  # no retry: SAQ completes, our status says failed
            job.add_error(failure.message)
            job.state, job.result = JobState.FAILED, failure.result
            job.finished_at = job.updated_at = _now()
            await self._save(job, JobState.RUNNING)
            await self._changed(job)
            return
        except Exception as error:
            message = (
                f"attempt {job.attempts}: timed out after {self._timeout:g} s"
                if isinstance(error, TimeoutError)
                else f"attempt {job.attempts}: {type(error).__name__}: {error}"
            )
            job.add_error(message)
            job.state = JobState.QUEUED if saq_job.retryable else JobState.FAILED
            job.updated_at = _now()
            if job.state is JobState.FAILED:
                job.finished_at = job.updated_at
            await self._save(job, JobState.RUNNING)
            await self._changed(job)
            raise
        finally:
            if current is not None:
                self._running.discard(current)
        job.state, job.progress, job.result = JobState.SUCCEEDED, 100, result
        job.finished_at = job.updated_at = _now()
        await self._save(job, JobState.RUNNING)
        await self._changed(job)

    async def _changed(self, job: Job) -> None:
        if self._observer is not None:
            await self._observer(copy.deepcopy(job))

    async def start_worker(self, concurrency: int = 2) -> None:
        if self._worker is not None:
            return

        async def trellis_job(ctx: dict[str, Any], *, job_id: str) -> None:
            await self._perform(ctx, job_id=job_id)

        worker: Worker[Any] = Worker(
            self._queue,
            functions=[(FUNCTION, trellis_job)],
            concurrency=concurrency,
            dequeue_timeout=1.0,
            timers={"sweep": 30, "schedule": 1, "abort": 1, "worker_info": 10},
            shutdown_grace_period_s=0,  # stop_worker gave the grace already: cancel (SAQ re-queues)
            cancellation_hard_deadline_s=2.0,
        )
        if not self._signals:
            worker.SIGNALS = []
        self._worker = worker
        self._worker_task = asyncio.create_task(worker.start())

    async def stop_worker(self, grace_seconds: float = 10.0) -> None:
        """Let running jobs finish for ``grace_seconds``; then cancel them (SAQ re-queues them)."""
        worker, task = self._worker, self._worker_task
        if worker is None or task is None:
            return
        running = set(self._running)
        if running:
            await asyncio.wait(running, timeout=grace_seconds)
        worker.event.set()  # SAQ's stop cancels what still runs and puts those jobs back in the queue
        try:
            await asyncio.wait_for(task, timeout=grace_seconds + 10.0)
        except TimeoutError:
            task.cancel()
        self._worker, self._worker_task = None, None

    async def close(self) -> None:
        await self.stop_worker(0)
        await self._redis.aclose()
