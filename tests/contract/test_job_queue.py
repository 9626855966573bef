"""The JobQueue contract, run against the in-process queue and SAQ on a real redis-server.

The Redis queue's worker runs in the test's event loop (SAQ ``Worker`` against the real
server); ``tests/integration/jobs`` runs ``trellis worker`` as a separate process as well.
Backoff is 0.05 s and the per-job timeout 0.5 s so the retries and timeouts stay fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from adapters.memory.jobs import MemoryJobQueue
from adapters.queue.saq_jobs import SaqJobQueue, create_queue_client
from domain.errors import Conflict, NotFound
from domain.jobs import Job, JobFailed, JobState
from domain.paging import PageRequest
from domain.ports import JobProgress, JobQueue
from tests.support.redis import redis_url, unique_namespace

# SAQ's upkeep calls redis-py's deprecated ``setex`` (redis 8); not ours to fix, not a failure here.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")

SETTINGS: dict[str, Any] = {"max_attempts": 3, "backoff_seconds": 0.05, "timeout_seconds": 0.5}


@pytest.fixture(params=["memory", "redis"])
async def queue(request: pytest.FixtureRequest) -> AsyncIterator[JobQueue]:
    if request.param == "memory":
        memory = MemoryJobQueue(**SETTINGS)
        yield memory
        await memory.stop_worker(0)
        return
    saq = SaqJobQueue(
        create_queue_client(redis_url()), name=unique_namespace(), install_signal_handlers=False, **SETTINGS
    )
    try:
        yield saq
    finally:
        await saq.close()


async def wait_for(queue: JobQueue, job_id: str, states: set[JobState], within: float = 10.0) -> Job:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        job = await queue.get(job_id)
        if job is not None and job.state in states:
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached {states}: {await queue.get(job_id)}")


Handler = Callable[[Job, JobProgress], Awaitable[dict[str, Any]]]


async def test_a_job_runs_reports_progress_and_succeeds(queue: JobQueue) -> None:
    seen: list[int] = []

    async def handler(job: Job, progress: JobProgress) -> dict[str, Any]:
        await progress(50)
        seen.append(job.payload["n"])
        return {"double": job.payload["n"] * 2}

    queue.register("double", handler)
    job = await queue.enqueue("double", {"n": 21}, owner_id="u1")
    assert job.state is JobState.QUEUED
    assert job.owner_id == "u1"
    assert job.progress == 0
    await queue.start_worker()
    done = await wait_for(queue, job.id, {JobState.SUCCEEDED, JobState.FAILED})
    assert done.state is JobState.SUCCEEDED
    assert done.result == {"double": 42}
    assert done.progress == 100
    assert done.attempts == 1
    assert seen == [21]


async def test_an_attempt_that_raises_is_retried_then_succeeds(queue: JobQueue) -> None:
    calls: list[float] = []

    async def flaky(job: Job, progress: JobProgress) -> dict[str, Any]:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise RuntimeError("boom")
        return {"ok": True}

    queue.register("flaky", flaky)
    await queue.start_worker()
    job = await queue.enqueue("flaky", {}, owner_id=None)
    done = await wait_for(queue, job.id, {JobState.SUCCEEDED, JobState.FAILED})
    assert done.state is JobState.SUCCEEDED
    assert done.attempts == 3
    assert len(done.errors) == 2
    assert "boom" in done.errors[0]
    assert calls[1] - calls[0] >= 0.05
    assert calls[2] - calls[1] >= 0.1


async def test_exhausted_retries_land_in_the_dead_letters_and_can_be_retried(queue: JobQueue) -> None:
    fail = True

    async def broken(job: Job, progress: JobProgress) -> dict[str, Any]:
        if fail:
            raise ValueError("always")
        return {"fixed": True}

    queue.register("broken", broken)
    await queue.start_worker()
    job = await queue.enqueue("broken", {}, owner_id="u2")
    dead = await wait_for(queue, job.id, {JobState.FAILED, JobState.SUCCEEDED})
    assert dead.state is JobState.FAILED
    assert dead.attempts == 3
    assert len(dead.errors) == 3
    failed = await queue.list(JobState.FAILED, PageRequest(size=10))
    assert [j.id for j in failed.items] == [job.id]
    assert failed.total == 1
    with pytest.raises(Conflict):
        await queue.retry((await queue.enqueue("broken", {}, owner_id=None)).id)
    fail = False
    again = await queue.retry(job.id)
    assert again.state is JobState.QUEUED
    done = await wait_for(queue, job.id, {JobState.SUCCEEDED})
    assert done.result == {"fixed": True}
    with pytest.raises(NotFound):
        await queue.retry("no-such-job")


async def test_job_failed_is_not_retried(queue: JobQueue) -> None:
    async def refuses(job: Job, progress: JobProgress) -> dict[str, Any]:
        raise JobFailed("bad input", result={"accepted": 0})

    queue.register("refuses", refuses)
    await queue.start_worker()
    job = await queue.enqueue("refuses", {}, owner_id=None)
    done = await wait_for(queue, job.id, {JobState.FAILED})
    assert done.attempts == 1
    assert done.errors == ["bad input"]
    assert done.result == {"accepted": 0}


async def test_an_attempt_over_the_timeout_fails_and_is_retried(queue: JobQueue) -> None:
    async def slow(job: Job, progress: JobProgress) -> dict[str, Any]:
        await asyncio.sleep(30)
        return {}

    queue.register("slow", slow)
    await queue.start_worker()
    job = await queue.enqueue("slow", {}, owner_id=None)
    done = await wait_for(queue, job.id, {JobState.FAILED}, within=20)
    assert done.attempts == 3
    assert all("timed out" in e for e in done.errors)


async def test_stopping_the_worker_finishes_the_running_job_within_the_grace(queue: JobQueue) -> None:
    started = asyncio.Event()

    async def short(job: Job, progress: JobProgress) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(0.3)
        return {"finished": True}

    queue.register("short", short)
    await queue.start_worker()
    job = await queue.enqueue("short", {}, owner_id=None)
    await asyncio.wait_for(started.wait(), 10)
    await queue.stop_worker(grace_seconds=5)
    done = await queue.get(job.id)
    assert done is not None
    assert done.state is JobState.SUCCEEDED


async def test_stopping_the_worker_requeues_a_job_that_outlives_the_grace(queue: JobQueue) -> None:
    started = asyncio.Event()
    runs: list[int] = []

    async def long(job: Job, progress: JobProgress) -> dict[str, Any]:
        runs.append(1)
        started.set()
        if len(runs) == 1:
            await asyncio.sleep(30)
        return {"run": len(runs)}

    queue.register("long", long)
    await queue.start_worker()
    job = await queue.enqueue("long", {}, owner_id=None)
    await asyncio.wait_for(started.wait(), 10)
    await queue.stop_worker(grace_seconds=0.2)
    parked = await queue.get(job.id)
    assert parked is not None
    assert parked.state is JobState.QUEUED
    await queue.start_worker()  # the next worker picks it up again
    done = await wait_for(queue, job.id, {JobState.SUCCEEDED}, within=15)
    assert done.result == {"run": 2}


async def test_unknown_job_is_none(queue: JobQueue) -> None:
    assert await queue.get("nope") is None
