"""The analytics pipeline: schema check, dedup by event id, retries, dead letters, counters,
consumer-group sharing and crash recovery on real Redis; the HTTP route and the channel push."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from redis.exceptions import RedisError

from adapters.redis.client import create_client
from application.analytics import AnalyticsProcessor, CounterDelta, to_record
from domain.events import TASK_COMPLETED, DomainEvent
from entrypoints.ws.analytics import (
    AnalyticsConsumer,
    AnalyticsFeed,
    MemoryCounterStore,
    MemoryEventLog,
    RedisCounterStore,
    RedisEventLog,
)
from tests.integration.ws.conftest import LiveServer, receive, subscribe
from tests.support.redis import private_redis_server, redis_client, redis_url

NOW = datetime(2026, 11, 23, 9, 30, 15, tzinfo=UTC)


def _event(name: str = TASK_COMPLETED, event_id: str | None = None) -> dict[str, str]:
    return to_record(
        DomainEvent(
            id=event_id or uuid.uuid4().hex,
            name=name,
            actor_id="u1",
            at=NOW,
            project_id="p1",
            data={"task_id": "t1", "project_id": "p1", "progress": 100},
        )
    )


class Flaky(MemoryCounterStore):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def apply_once(self, delta: CounterDelta) -> bool:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("store hiccup")
        return await super().apply_once(delta)


def _consumer(log: Any, store: Any) -> AnalyticsConsumer:
    return AnalyticsConsumer(log, AnalyticsProcessor(store), store, backoff_seconds=0.001, block_ms=50, now=lambda: NOW)


async def test_duplicates_count_once_invalid_events_are_dead_lettered() -> None:
    log, store = MemoryEventLog(), MemoryCounterStore()
    consumer = _consumer(log, store)
    same = _event(event_id="e-1")
    for fields in (same, same, _event(), {**_event(), "name": "task.exploded"}, {**_event(), "data": "[1]"}):
        await log.append(fields)
    assert await consumer.run_once()
    counters = await store.snapshot(NOW, 5)
    assert counters.tasks_completed_today == 2
    assert counters.events_per_minute == {"2026-11-23T09:30": {"task.completed": 2}}
    dead = await log.dead_letters()
    assert [d["error"] for d in dead] == [
        "invalid: unknown event name 'task.exploded'",
        "invalid: data is not an object",
    ]


async def test_a_failing_event_is_retried_then_dead_lettered() -> None:
    log = MemoryEventLog()
    recovering = _consumer(log, Flaky(failures=2))  # 3 attempts: the third succeeds
    await log.append(_event())
    assert await recovering.run_once()
    assert not await log.dead_letters()
    broken_store = Flaky(failures=10)
    broken = _consumer(log, broken_store)
    await log.append(_event(event_id="e-poison"))
    assert not await broken.run_once()
    (dead,) = await log.dead_letters()
    assert dead["id"] == "e-poison"
    assert dead["error"].startswith("failed after 3 attempts")


@pytest.mark.real_service
async def test_redis_group_shares_work_dedupes_and_recovers_a_crashed_consumers_entries() -> None:
    async with redis_client(redis_url()):
        pass
    client = create_client(redis_url())
    ns = f"test-{uuid.uuid4().hex[:10]}"
    try:
        log_a = RedisEventLog(client, key=f"{ns}:events", dead_key=f"{ns}:dead", claim_idle_ms=60_000)
        store = RedisCounterStore(client, prefix=ns)
        a, b = _consumer(log_a, store), _consumer(log_a, store)
        for n in range(10):
            await log_a.append(_event(event_id=f"e-{n}"))
        await log_a.append(_event(event_id="e-0"))  # a duplicate delivery
        await log_a.append({**_event(), "at": "yesterday"})
        await asyncio.gather(a.run_once(), b.run_once())
        counters = await store.snapshot(NOW, 5)
        assert counters.tasks_completed_today == 10
        assert await log_a.lag() == 0
        (dead,) = await log_a.dead_letters()
        assert dead["error"] == "invalid: at is not an ISO 8601 time"

        # a consumer reads an entry and dies before acknowledging it: another claims it
        await log_a.append(_event(event_id="e-crash"))
        taken = await log_a.read("doomed", 10, 50)
        assert [f["id"] for _, f in taken] == ["e-crash"]
        assert await log_a.lag() == 1
        rescuer_log = RedisEventLog(client, key=f"{ns}:events", dead_key=f"{ns}:dead", claim_idle_ms=0)
        assert await _consumer(rescuer_log, store).run_once()
        assert (await store.snapshot(NOW, 5)).tasks_completed_today == 11
        assert await log_a.lag() == 0
    finally:
        keys = [k async for k in client.scan_iter(match=f"{ns}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_the_consumer_group_is_made_again_after_redis_lost_it() -> None:
    """Found by the faults-under-load harness: Redis restarted empty, every read failed NOGROUP
    (the group was remembered as made) and analytics stayed down until the API restarted."""
    with private_redis_server() as redis:
        client = create_client(redis.url)
        try:
            log = RedisEventLog(client)
            await log.append(_event(event_id="before"))
            assert [f["id"] for _, f in await log.read("c1", 10, 50)] == ["before"]
            redis.restart()  # empty: no stream, no group
            for _ in range(20):  # the pool's dead connections are replaced as they fail
                try:
                    await log.append(_event(event_id="after"))
                    break
                except (RedisError, OSError):
                    await asyncio.sleep(0.05)
            assert [f["id"] for _, f in await log.read("c1", 10, 50)] == ["after"]
            assert await log.lag() == 1  # read, not yet acknowledged
        finally:
            await client.aclose()


async def test_the_feed_loses_an_event_quietly_while_redis_is_down() -> None:
    """Found by the faults-under-load harness: each write during a Redis outage logged an ERROR
    with a stack trace (the publisher's catch-all); the feed now says what it lost, as a warning."""
    with private_redis_server() as redis:
        client = create_client(redis.url)
        try:
            feed = AnalyticsFeed(RedisEventLog(client))
            redis.kill()
            with structlog.testing.capture_logs() as logs:
                await feed(DomainEvent(id="e1", name=TASK_COMPLETED, actor_id="u1", at=NOW, project_id="p1"))
            assert [(e["event"], e["log_level"], e["event_id"]) for e in logs] == [
                ("analytics_event_lost", "warning", "e1")
            ]
        finally:
            await client.aclose()


async def test_counters_over_http_and_pushed_on_the_analytics_channel(live: LiveServer) -> None:
    owner = await live.api.member()
    project = await live.api.create_project(owner)
    async with live.socket(owner) as ws:
        assert (await subscribe(ws, "analytics"))["type"] == "subscribed"
        await live.api.create_task(owner, project["id"], progress=100)
        async with asyncio.timeout(5):
            while True:
                pushed = await receive(ws)
                if pushed.get("data", {}).get("tasks_completed_today") == 1:
                    break
        assert pushed["channel"] == "analytics"
        assert pushed["event"] == "analytics.counters"
        assert pushed["data"]["active_connections"] == 1
    response = await live.api.client.get("/api/v1/analytics", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"]["tasks_completed_today"] == 1
    per_minute = body["data"]["events_per_minute"]
    assert sum(counts.get("task.completed", 0) for counts in per_minute.values()) == 1
    assert body["meta"] == {"window_minutes": 5}
    assert (await live.api.client.get("/api/v1/analytics")).status_code == 401
    assert json.dumps(body)  # plain JSON
