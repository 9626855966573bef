"""``trellis worker`` and ``trellis scheduler``: run queued jobs, run scheduled maintenance.

Worker: starts the queue's worker (SAQ on Redis; ``JOB_QUEUE=memory`` runs jobs inside the API
process, so a separate worker has nothing to do) and waits for SIGTERM/SIGINT; then it lets the
running jobs finish for ``WORKER_SHUTDOWN_GRACE_SECONDS`` and puts what is still running back in
the queue for the next worker.

Scheduler: every second it looks at each scheduled job; one whose interval has passed since its
last recorded run takes that job's lock (Redis ``SET NX PX``; the memory store when embedded),
checks the last run again under the lock, runs, records the run and releases. So two schedulers
never run one job at once, and a run missed while every scheduler was down runs once at start-up
(not once per missed interval). Each run is logged and counted (``trellis_scheduled_runs_total``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace

from domain.jobs import JobState
from domain.ports import Clock, ScheduleStore
from entrypoints.observability.jobs import report_dead_letters, start_process_observability
from entrypoints.observability.metrics import DIGEST_NOTIFICATIONS, SCHEDULED_RUN_DURATION, SCHEDULED_RUNS
from entrypoints.settings import Settings

log = structlog.get_logger("trellis.worker")


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    name: str
    every: timedelta
    run: Callable[[], Awaitable[dict[str, Any]]]
    lock_seconds: float = 3600.0  # longer than a run may take; a crashed scheduler frees it after this


class Scheduler:
    def __init__(self, store: ScheduleStore, clock: Clock, jobs: list[ScheduledJob], tick_seconds: float = 1.0) -> None:
        self._store = store
        self._clock = clock
        self._jobs = jobs
        self._tick = tick_seconds
        self._stop = asyncio.Event()

    async def run_due(self) -> list[str]:
        """Run every job that is due (and whose lock we get); the names of those that ran."""
        return [job.name for job in self._jobs if await self._run_if_due(job)]

    async def _due(self, job: ScheduledJob) -> bool:
        last = await self._store.last_run(job.name)
        return last is None or self._clock.now() - last >= job.every

    async def _run_if_due(self, job: ScheduledJob) -> bool:
        if not await self._due(job):
            return False
        token = await self._store.acquire(job.name, job.lock_seconds)
        if token is None:
            return False  # another scheduler runs it now
        try:
            if not await self._due(job):  # it ran between our look and our lock
                return False
            started = time.monotonic()
            with (
                structlog.contextvars.bound_contextvars(scheduled_job=job.name),
                trace.get_tracer("trellis.scheduler").start_as_current_span(
                    f"scheduled {job.name}", context=otel_context.Context(), attributes={"trellis.job.kind": job.name}
                ) as span,
            ):
                try:
                    result = await job.run()
                except Exception:
                    SCHEDULED_RUNS.labels(job.name, "failed").inc()
                    span.set_attribute("trellis.job.outcome", "failed")
                    log.exception("scheduled_run_failed", job=job.name)
                    result = None
                SCHEDULED_RUN_DURATION.labels(job.name).observe(time.monotonic() - started)
            runs = await self._store.mark_run(job.name, self._clock.now())
            if result is not None:
                SCHEDULED_RUNS.labels(job.name, "succeeded").inc()
                log.info(
                    "scheduled_run",
                    job=job.name,
                    run=runs,
                    duration_ms=round((time.monotonic() - started) * 1000),
                    **result,
                )
            return True
        finally:
            await self._store.release(job.name, token)

    async def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_due()
            except Exception:  # a store outage: log, try again next tick
                log.exception("scheduler_tick_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._tick)

    def stop(self) -> None:
        self._stop.set()


def scheduled_jobs(settings: Settings, container: Any) -> list[ScheduledJob]:
    maintenance = container.jobs.maintenance

    async def overdue_digest() -> dict[str, Any]:
        result: dict[str, Any] = await maintenance.overdue_digest()
        for outcome in ("sent", "skipped", "failed"):
            DIGEST_NOTIFICATIONS.labels(outcome).inc(result.get(outcome, 0))
        return result

    return [
        ScheduledJob("purge_deleted", timedelta(seconds=settings.schedule_purge_seconds), maintenance.purge_deleted),
        ScheduledJob(
            "recompute_progress", timedelta(seconds=settings.schedule_progress_seconds), maintenance.recompute_progress
        ),
        ScheduledJob("overdue_digest", timedelta(seconds=settings.schedule_digest_seconds), overdue_digest),
        ScheduledJob(
            "refresh_weather", timedelta(seconds=settings.schedule_weather_seconds), maintenance.refresh_weather
        ),
        ScheduledJob(
            "expire_transfers", timedelta(seconds=settings.schedule_expire_seconds), container.jobs.transfer.expire
        ),
    ]


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def run_worker(settings: Settings, *, with_scheduler: bool = False, stop: asyncio.Event | None = None) -> int:
    from entrypoints.bootstrap import bootstrap

    stop_observability = start_process_observability(settings, "trellis-worker")
    try:
        container = await bootstrap(settings)
    except BaseException:
        stop_observability()
        raise
    jobs = container.jobs
    assert jobs is not None
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    scheduler: Scheduler | None = None
    scheduler_task: asyncio.Task[None] | None = None
    try:
        if jobs.embedded_worker:
            log.warning("worker_embedded", detail="JOB_QUEUE=memory: jobs run inside the API process (set REDIS_URL)")
        else:
            await jobs.queue.start_worker(settings.worker_concurrency)
        dead_letters = asyncio.create_task(report_dead_letters(jobs.queue))
        log.info("worker_started", concurrency=settings.worker_concurrency, scheduler=with_scheduler)
        if with_scheduler:
            scheduler = Scheduler(jobs.schedule, container.ports.clock, scheduled_jobs(settings, container))
            scheduler_task = asyncio.create_task(scheduler.run_forever())
        await stop.wait()
        log.info("worker_stopping", grace_seconds=settings.worker_shutdown_grace_seconds)
        if scheduler is not None and scheduler_task is not None:
            scheduler.stop()
            await scheduler_task
        await jobs.queue.stop_worker(float(settings.worker_shutdown_grace_seconds))
        dead_letters.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dead_letters
    finally:
        await container.close()
        stop_observability()
    log.info("worker_stopped")
    return 0


async def run_scheduler(settings: Settings, *, stop: asyncio.Event | None = None) -> int:
    from entrypoints.bootstrap import bootstrap

    stop_observability = start_process_observability(settings, "trellis-scheduler")
    try:
        container = await bootstrap(settings)
    except BaseException:
        stop_observability()
        raise
    jobs = container.jobs
    assert jobs is not None
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    scheduler = Scheduler(jobs.schedule, container.ports.clock, scheduled_jobs(settings, container))
    task = asyncio.create_task(scheduler.run_forever())
    log.info("scheduler_started", jobs=[j.name for j in scheduled_jobs(settings, container)])
    try:
        await stop.wait()
        scheduler.stop()
        await task
    finally:
        await container.close()
        stop_observability()
    log.info("scheduler_stopped")
    return 0


# --- import (the CLI) ----------------------------------------------------------------------


def _exists(path: Path) -> bool:
    return path.is_file()


def _open(path: Path, mode: str) -> IO[Any]:
    return path.open(mode)


async def run_import_command(settings: Settings, file: str, project_id: str, mode: str, as_user: str | None) -> int:
    """``trellis import FILE --project ID``: queue the import and draw its progress until it ends."""
    import sys

    from domain.identity import Principal, Role
    from entrypoints.bootstrap import bootstrap
    from entrypoints.transfer_formats import format_of

    source = Path(file)
    if not _exists(source):
        print(f"trellis import: no such file: {file}", file=sys.stderr)  # noqa: T201
        return 2
    container = await bootstrap(settings)
    try:
        jobs = container.jobs
        assert jobs is not None
        if as_user:
            user = await container.ports.uow.users.get_by_email(as_user)
            if user is None:
                print(f"trellis import: no user {as_user}", file=sys.stderr)  # noqa: T201
                return 2
            principal = user.principal
        else:
            principal = Principal(user_id="cli", roles=frozenset({Role.ADMIN}))

        async def chunks() -> AsyncIterator[bytes]:
            with _open(source, "rb") as handle:
                while chunk := handle.read(1024 * 1024):
                    yield chunk

        fmt = format_of(source.name, None) or ""
        await jobs.transfer.check_import(principal, project_id, fmt, mode)
        job = await jobs.transfer.start_import(principal, project_id, fmt, mode, chunks())
        deadline = time.monotonic() + settings.job_timeout_seconds * settings.job_max_attempts + 60
        while time.monotonic() < deadline:
            current = await jobs.queue.get(job.id)
            if current is None:
                break
            filled = current.progress // 5
            sys.stdout.write(
                f"\rimport {job.id} [{'#' * filled}{'.' * (20 - filled)}] {current.progress:3d}% {current.state}"
            )
            sys.stdout.flush()
            if current.state in (JobState.SUCCEEDED, JobState.FAILED):
                sys.stdout.write("\n")
                print(json.dumps(current.result, indent=2))  # noqa: T201
                for error in current.errors:
                    print(f"error: {error}", file=sys.stderr)  # noqa: T201
                return 0 if current.state is JobState.SUCCEEDED else 1
            await asyncio.sleep(0.2)
        print("\ntrellis import: gave up waiting (is a worker running?)", file=sys.stderr)  # noqa: T201
        return 1
    finally:
        await container.close()
