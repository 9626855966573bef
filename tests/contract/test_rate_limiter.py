"""The RateLimiter contract, run against the in-process limiter and the Redis one (a real redis-server).

A moving window of one second keeps the suite fast: the in-process limiter reads an injected
clock that the test moves; on Redis (server clock) the test waits for real.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from adapters.ratelimit.limiter import InProcessRateLimiter, RedisRateLimiter
from domain.errors import DependencyUnavailable
from domain.ports import RateLimiter
from tests.support.redis import private_redis_server, redis_client, unique_namespace

THREE_PER_SECOND = "3/second"


class FakeClock:
    def __init__(self) -> None:
        self.now = 5_000.0

    def __call__(self) -> float:
        return self.now

    async def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    limiter: RateLimiter
    advance: Callable[[float], Awaitable[None]]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.real_service)])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        clock = FakeClock()
        yield Harness(InProcessRateLimiter(clock=clock), clock.advance)
        return
    async with redis_client() as client:
        yield Harness(RedisRateLimiter(client, key_prefix=unique_namespace()), asyncio.sleep)


def key() -> str:
    return uuid.uuid4().hex


async def test_hits_count_down_until_the_rate_is_spent(harness: Harness) -> None:
    who = key()
    decisions = [await harness.limiter.hit(THREE_PER_SECOND, "api", who) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert {d.limit for d in decisions} == {3}
    assert all(0 <= d.reset_after <= 1 for d in decisions[:3])
    assert decisions[3].reset_after == 1, "a refusal says when to retry (at least one second)"


async def test_a_refused_hit_is_not_counted_and_the_window_moves_on(harness: Harness) -> None:
    who = key()
    for _ in range(3):
        assert (await harness.limiter.hit(THREE_PER_SECOND, "api", who)).allowed
    for _ in range(5):  # refused hits must not extend the window
        assert not (await harness.limiter.hit(THREE_PER_SECOND, "api", who)).allowed
    await harness.advance(1.1)
    again = await harness.limiter.hit(THREE_PER_SECOND, "api", who)
    assert again.allowed
    assert again.remaining == 2


async def test_the_window_moves_hit_by_hit_not_in_fixed_steps(harness: Harness) -> None:
    who = key()
    assert (await harness.limiter.hit(THREE_PER_SECOND, "api", who)).allowed
    await harness.advance(0.6)
    assert (await harness.limiter.hit(THREE_PER_SECOND, "api", who)).allowed
    assert (await harness.limiter.hit(THREE_PER_SECOND, "api", who)).allowed
    assert not (await harness.limiter.hit(THREE_PER_SECOND, "api", who)).allowed
    await harness.advance(0.5)  # the first hit left the window, the other two did not
    freed = await harness.limiter.hit(THREE_PER_SECOND, "api", who)
    assert freed.allowed
    assert freed.remaining == 0
    assert not (await harness.limiter.hit(THREE_PER_SECOND, "api", who)).allowed


async def test_peek_counts_nothing_and_clear_empties_the_window(harness: Harness) -> None:
    who = key()
    first = await harness.limiter.peek(THREE_PER_SECOND, "login", who)
    assert first.allowed
    assert first.remaining == 3
    for _ in range(3):
        await harness.limiter.hit(THREE_PER_SECOND, "login", who)
    spent = await harness.limiter.peek(THREE_PER_SECOND, "login", who)
    assert not spent.allowed
    assert spent.remaining == 0
    await harness.limiter.clear(THREE_PER_SECOND, "login", who)
    cleared = await harness.limiter.peek(THREE_PER_SECOND, "login", who)
    assert cleared.allowed
    assert cleared.remaining == 3


async def test_keys_and_rates_are_separate_buckets(harness: Harness) -> None:
    who = key()
    for _ in range(3):
        await harness.limiter.hit(THREE_PER_SECOND, "api", who)
    assert not (await harness.limiter.hit(THREE_PER_SECOND, "api", who)).allowed
    assert (await harness.limiter.hit(THREE_PER_SECOND, "auth", who)).allowed
    assert (await harness.limiter.hit(THREE_PER_SECOND, "api", key())).allowed
    assert (await harness.limiter.hit("10 per 1 second", "api", who)).remaining == 9


async def test_the_in_process_limiter_forgets_emptied_windows() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)
    for _ in range(limiter.SWEEP_EVERY - 1):
        await limiter.hit(THREE_PER_SECOND, "api", key())
    await clock.advance(2)
    await limiter.hit(THREE_PER_SECOND, "api", "last")  # the sweep runs on this hit
    assert len(limiter._windows) == 1


@pytest.mark.real_service
async def test_redis_down_is_dependency_unavailable_and_the_same_limiter_recovers() -> None:
    with private_redis_server() as server:
        async with redis_client(server.url) as client:
            limiter = RedisRateLimiter(client, key_prefix=unique_namespace(), operation_timeout=0.5)
            assert (await limiter.hit(THREE_PER_SECOND, "api", "x")).allowed
            server.kill()
            with pytest.raises(DependencyUnavailable):
                await limiter.hit(THREE_PER_SECOND, "api", "x")
            with pytest.raises(DependencyUnavailable):
                await limiter.clear(THREE_PER_SECOND, "api", "x")
            server.restart()
            assert (await limiter.hit(THREE_PER_SECOND, "api", "x")).allowed
