"""The scheduler: two schedulers on one real Redis never run a job at once, a run missed while
down runs once at start-up, and each run is recorded and counted. Also on the memory store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.memory.clock import FixedClock
from adapters.memory.jobs import MemoryScheduleStore
from adapters.queue.saq_jobs import create_queue_client
from adapters.queue.schedule import RedisScheduleStore
from domain.ports import ScheduleStore
from entrypoints.worker import ScheduledJob, Scheduler
from tests.support.redis import redis_url, unique_namespace

START = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[tuple[ScheduleStore, ScheduleStore]]:
    """Two handles on one schedule store, as two scheduler processes would have."""
    if request.param == "memory":
        store = MemoryScheduleStore(clock=lambda: START)
        yield store, store
        return
    prefix = f"{unique_namespace()}:schedule"
    first, second = create_queue_client(redis_url()), create_queue_client(redis_url())
    try:
        yield RedisScheduleStore(first, prefix), RedisScheduleStore(second, prefix)
    finally:
        await first.aclose()
        await second.aclose()


class Recorder:
    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.runs = 0

    async def __call__(self) -> dict[str, Any]:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.3)
        finally:
            self.running -= 1
        self.runs += 1
        return {"ok": True}


async def test_two_schedulers_never_run_one_job_at_once(stores: tuple[ScheduleStore, ScheduleStore]) -> None:
    clock = FixedClock(START)
    job = Recorder()
    scheduled = [ScheduledJob("digest", timedelta(days=1), job, lock_seconds=30)]
    one, two = Scheduler(stores[0], clock, scheduled), Scheduler(stores[1], clock, scheduled)
    ran = await asyncio.gather(one.run_due(), two.run_due(), one.run_due(), two.run_due())
    assert sum(len(r) for r in ran) == 1
    assert job.runs == 1
    assert job.most == 1
    assert await one.run_due() == []  # ran today: not due again
    clock.advance(timedelta(days=1))
    assert await two.run_due() == ["digest"]
    assert job.runs == 2
    assert await stores[0].last_run("digest") == clock.now()


async def test_a_run_missed_while_down_runs_once_at_start_up(stores: tuple[ScheduleStore, ScheduleStore]) -> None:
    clock = FixedClock(START)
    await stores[0].mark_run("purge", START - timedelta(days=10))  # last ran ten days ago; down since
    job = Recorder()
    scheduler = Scheduler(stores[1], clock, [ScheduledJob("purge", timedelta(days=1), job)], tick_seconds=0.05)
    task = asyncio.create_task(scheduler.run_forever())
    try:
        await asyncio.sleep(0.6)
    finally:
        scheduler.stop()
        await asyncio.wait_for(task, 5)
    assert job.runs == 1  # once, not ten times
    assert await stores[0].mark_run("purge", clock.now()) == 3  # the seeded run, the catch-up, this one


async def test_a_failed_run_is_recorded_and_the_lock_released(stores: tuple[ScheduleStore, ScheduleStore]) -> None:
    clock = FixedClock(START)

    async def broken() -> dict[str, Any]:
        raise RuntimeError("down")

    scheduler = Scheduler(stores[0], clock, [ScheduledJob("progress", timedelta(hours=1), broken)])
    assert await scheduler.run_due() == ["progress"]
    token = await stores[1].acquire("progress", 5)
    assert token is not None
    await stores[1].release("progress", token)
