"""The Redis streams backend: numbering shared by every process, history for ``since``."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest

from adapters.redis.client import create_client
from entrypoints.ws.backends import SequencedRedisStreamBackend
from tests.integration.ws.conftest import LiveServer, live_server, receive, receive_until, subscribe
from tests.support.redis import redis_client, redis_url

pytestmark = pytest.mark.real_service


def _seq(payload: bytes) -> int:
    return int(json.loads(payload)["seq"])


async def test_two_publishers_number_one_channel_in_stream_order() -> None:
    url = redis_url()
    async with redis_client(url):
        pass  # reachable, else skipped (or failed under REQUIRE_REAL_SERVICES)
    first, second = create_client(url), create_client(url)
    try:
        a = SequencedRedisStreamBackend(1000, redis=first)
        b = SequencedRedisStreamBackend(1000, redis=second)
        channel = f"project:{uuid.uuid4().hex}"

        async def burst(backend: SequencedRedisStreamBackend, who: str) -> None:
            for n in range(40):
                await backend.publish(json.dumps({"who": who, "n": n}).encode(), [channel])

        await asyncio.gather(burst(a, "a"), burst(b, "b"))
        history = await a.get_history(channel)
        seqs = [_seq(entry) for entry in history]
        assert len(seqs) == 80
        assert seqs == list(range(seqs[0], seqs[0] + 80))  # consecutive, in stream order
        assert await b.current_seq(channel) == seqs[-1]
        for who in ("a", "b"):  # each publisher's own order is kept
            ns = [json.loads(e)["n"] for e in history if json.loads(e)["who"] == who]
            assert ns == list(range(40))
    finally:
        await first.aclose()
        await second.aclose()


async def test_live_reading_starts_at_subscription_not_at_the_start_of_history() -> None:
    client = create_client(redis_url())
    backend = SequencedRedisStreamBackend(100, redis=client, block_ms=50)
    channel = f"user:{uuid.uuid4().hex}"
    try:
        await backend.publish(b'{"old":true}', [channel])
        await backend.subscribe([channel])
        await backend.publish(b'{"new":true}', [channel])
        events = backend.stream_events()
        got_channel, payload = await asyncio.wait_for(anext(events), 5)
        assert got_channel == channel
        assert json.loads(payload)["new"] is True
        await events.aclose()
    finally:
        await client.aclose()


@pytest.fixture
async def redis_live() -> AsyncIterator[LiveServer]:
    async with live_server(REDIS_URL=redis_url()) as value:
        yield value


async def test_delivery_replay_and_reset_through_redis(redis_live: LiveServer) -> None:
    live = redis_live
    owner = await live.api.member()
    project = await live.api.create_project(owner, title="R0")
    channel = f"project:{project['id']}"

    async def rename(title: str) -> None:
        response = await live.api.client.patch(
            f"/api/v1/projects/{project['id']}", json={"title": title}, headers=owner.headers
        )
        assert response.status_code == 200, response.text

    async with live.socket(owner) as ws:
        await subscribe(ws, channel)
        await rename("R1")
        seen = (await receive(ws))["seq"]
    for n in range(2, 5):
        await rename(f"R{n}")
    async with live.socket(owner) as ws:
        await subscribe(ws, channel, since=seen)
        replayed = await receive_until(ws, lambda m: m.get("data", {}).get("title") == "R4")
        assert [(m["seq"], m["data"]["title"]) for m in replayed] == [
            (seen + 1, "R2"),
            (seen + 2, "R3"),
            (seen + 3, "R4"),
        ]
    # history lost (the stream expired or was trimmed): the client is told to refetch
    async with redis_client(redis_url()) as redis:
        await redis.delete(f"trellis:live:stream:{channel}")
    await rename("R5")
    async with live.socket(owner) as ws:
        await subscribe(ws, channel, since=seen)
        assert await receive(ws) == {"type": "reset", "channel": channel}


async def test_an_event_the_dead_redis_could_not_carry_is_a_warning_not_an_error() -> None:
    """Found by the faults-under-load harness: while Redis was down each write logged the
    publisher's catch-all ERROR with a stack trace; the forwarder now says what was lost."""
    from datetime import UTC, datetime

    import structlog
    from redis.exceptions import ConnectionError as RedisConnectionError

    from domain.events import TASK_UPDATED, DomainEvent
    from entrypoints.ws.forwarder import EventForwarder

    async def dead_redis(message: bytes, channels: list[str]) -> None:
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    event = DomainEvent(
        id="e1", name=TASK_UPDATED, actor_id="u1", at=datetime.now(UTC), project_id="p1", data={"task_id": "t1"}
    )
    with structlog.testing.capture_logs() as logs:
        await EventForwarder(dead_redis)(event)
    assert [(e["event"], e["log_level"], e["channel"]) for e in logs] == [("live_event_lost", "warning", "project:p1")]
