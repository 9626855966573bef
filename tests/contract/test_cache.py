"""The Cache contract, run against the memory cache and the Redis cache (a real redis-server).

Time: the memory cache reads an injected clock that the test moves; on Redis the test waits
for real, with TTLs of one second, so the suite stays fast. The Redis-only tests at the end
break the server on purpose: failures must come out as ``DependencyUnavailable`` within the
adapter's timeout, and the same adapter object must work again once Redis is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from adapters.memory.cache import MemoryCache
from adapters.redis.cache import RedisCache
from domain.errors import DependencyUnavailable
from domain.ports import Cache
from tests.support.redis import private_redis_server, redis_client, unique_namespace


class FakeClock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    async def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    cache: Cache
    advance: Callable[[float], Awaitable[None]]  # let time pass (moved, or waited for)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.real_service)])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        clock = FakeClock()
        yield Harness(MemoryCache(clock=clock), clock.advance)
        return
    async with redis_client() as client:
        yield Harness(RedisCache(client, namespace=unique_namespace()), asyncio.sleep)


async def test_a_missing_key_is_none(harness: Harness) -> None:
    assert await harness.cache.get("nothing-here") is None


async def test_values_round_trip_as_exact_bytes(harness: Harness) -> None:
    value = bytes(range(256)) + b"\x00\xff tail"
    await harness.cache.set("project:1", value, ttl_seconds=60)
    await harness.cache.set("empty", b"", ttl_seconds=60)

    assert await harness.cache.get("project:1") == value
    assert await harness.cache.get("empty") == b""


async def test_set_replaces_the_value(harness: Harness) -> None:
    await harness.cache.set("k", b"one", ttl_seconds=60)
    await harness.cache.set("k", b"two", ttl_seconds=60)

    assert await harness.cache.get("k") == b"two"


async def test_entries_expire_after_their_ttl(harness: Harness) -> None:
    await harness.cache.set("short", b"v", ttl_seconds=1)
    await harness.cache.set("long", b"v", ttl_seconds=60)
    assert await harness.cache.get("short") == b"v"

    await harness.advance(1.1)

    assert await harness.cache.get("short") is None
    assert await harness.cache.get("long") == b"v"


async def test_setting_again_restarts_the_ttl(harness: Harness) -> None:
    await harness.cache.set("k", b"old", ttl_seconds=1)
    await harness.cache.set("k", b"new", ttl_seconds=60)

    await harness.advance(1.1)

    assert await harness.cache.get("k") == b"new"


@pytest.mark.parametrize("ttl", [0, -5])
async def test_every_entry_needs_a_positive_ttl(harness: Harness, ttl: int) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await harness.cache.set("k", b"v", ttl_seconds=ttl)
    assert await harness.cache.get("k") is None


async def test_delete_removes_the_keys_and_ignores_absent_ones(harness: Harness) -> None:
    for key in ("a", "b", "c"):
        await harness.cache.set(key, key.encode(), ttl_seconds=60)

    await harness.cache.delete("a", "c", "never-set")
    await harness.cache.delete()

    assert await harness.cache.get("a") is None
    assert await harness.cache.get("b") == b"b"
    assert await harness.cache.get("c") is None


async def test_a_generation_is_stable_until_bumped(harness: Harness) -> None:
    first = await harness.cache.generation("project:1:tasks")

    assert await harness.cache.generation("project:1:tasks") == first

    bumped = await harness.cache.bump("project:1:tasks")
    assert bumped > first
    assert await harness.cache.generation("project:1:tasks") == bumped
    assert await harness.cache.bump("project:1:tasks") > bumped


async def test_bumping_a_fresh_scope_works(harness: Harness) -> None:
    bumped = await harness.cache.bump("fresh")

    assert await harness.cache.generation("fresh") == bumped


async def test_scopes_are_independent(harness: Harness) -> None:
    other = await harness.cache.generation("project:2:tasks")

    await harness.cache.bump("project:1:tasks")

    assert await harness.cache.generation("project:2:tasks") == other


async def test_a_bump_invalidates_every_key_built_on_the_old_generation(harness: Harness) -> None:
    cache = harness.cache

    async def page_key(page: int) -> str:
        return f"tasks:p1:g{await cache.generation('project:1')}:page{page}"

    for page in (1, 2, 3):
        await cache.set(await page_key(page), f"page {page}".encode(), ttl_seconds=60)
    assert await cache.get(await page_key(2)) == b"page 2"

    await cache.bump("project:1")

    for page in (1, 2, 3):
        assert await cache.get(await page_key(page)) is None


async def test_lookup_reads_the_generation_and_the_entry_built_on_it_in_one_step(harness: Harness) -> None:
    cache = harness.cache
    generation, value = await cache.lookup("project:7", "project:1:7")
    assert generation == await cache.generation("project:7")
    assert value is None

    await cache.set(f"project:1:7:{generation}", b"cached", ttl_seconds=60)
    assert await cache.lookup("project:7", "project:1:7") == (generation, b"cached")

    bumped = await cache.bump("project:7")
    assert await cache.lookup("project:7", "project:1:7") == (bumped, None), "a bump hides the old entry"
    assert await cache.lookup("fresh-scope", "k") == (await cache.generation("fresh-scope"), None)


async def test_concurrent_bumps_all_get_distinct_generations(harness: Harness) -> None:
    start = await harness.cache.generation("hot")

    results = await asyncio.gather(*(harness.cache.bump("hot") for _ in range(25)))

    assert len(set(results)) == 25
    assert min(results) > start
    assert await harness.cache.generation("hot") == max(results)


async def test_ping_answers(harness: Harness) -> None:
    await harness.cache.ping()


# --- memory only ---------------------------------------------------------------------------


async def test_memory_cache_is_bounded_and_evicts_the_least_recently_used() -> None:
    cache = MemoryCache(max_entries=3, clock=FakeClock())
    for key in ("a", "b", "c"):
        await cache.set(key, b"v", ttl_seconds=60)
    assert await cache.get("a") == b"v"  # "b" is now the least recently used

    await cache.set("d", b"v", ttl_seconds=60)

    assert await cache.get("b") is None
    assert [await cache.get(k) for k in ("a", "c", "d")] == [b"v", b"v", b"v"]


async def test_memory_generations_never_repeat_even_after_eviction() -> None:
    cache = MemoryCache(max_entries=2, clock=FakeClock())
    seen = {await cache.generation("s0")}
    seen.add(await cache.bump("s0"))
    for i in range(1, 5):  # pushes "s0"'s counter out
        seen.add(await cache.generation(f"s{i}"))

    again = await cache.generation("s0")

    assert again not in seen
    assert again > max(seen)


# --- redis only ----------------------------------------------------------------------------


@pytest.mark.real_service
async def test_redis_namespaces_do_not_see_each_other() -> None:
    async with redis_client() as client:
        one = RedisCache(client, namespace=unique_namespace())
        two = RedisCache(client, namespace=unique_namespace())
        await one.set("k", b"one", ttl_seconds=60)

        assert await two.get("k") is None
        await two.delete("k")
        assert await one.get("k") == b"one"


@pytest.mark.real_service
async def test_redis_entries_and_generations_carry_a_ttl() -> None:
    async with redis_client() as client:
        namespace = unique_namespace()
        cache = RedisCache(client, namespace=namespace, generation_ttl_seconds=3600)
        await cache.set("k", b"v", ttl_seconds=30)
        await cache.bump("scope")

        assert 0 < await client.ttl(f"{namespace}:cache:v:k") <= 30
        assert 3500 < await client.ttl(f"{namespace}:cache:g:scope") <= 3600


@pytest.mark.real_service
async def test_redis_generation_restarts_above_old_values_when_its_counter_is_lost() -> None:
    async with redis_client() as client:
        namespace = unique_namespace()
        cache = RedisCache(client, namespace=namespace)
        old = await cache.bump("scope")
        old = await cache.bump("scope")

        await client.delete(f"{namespace}:cache:g:scope")  # evicted, expired, or flushed

        assert await cache.generation("scope") > old


def _assert_unavailable(error: pytest.ExceptionInfo[DependencyUnavailable]) -> None:
    assert error.value.dependency == "redis"
    assert error.value.code == "dependency_unavailable"


@pytest.mark.real_service
async def test_redis_cache_survives_a_crash_and_a_restart_without_being_recreated() -> None:
    with private_redis_server() as server:
        async with redis_client(server.url) as client:
            cache = RedisCache(client, namespace="outage", operation_timeout=0.5)
            await cache.set("k", b"before", ttl_seconds=60)
            generation = await cache.bump("scope")
            assert await cache.get("k") == b"before"

            server.kill()

            operations: list[Callable[[], Awaitable[object]]] = [
                lambda: cache.get("k"),
                lambda: cache.set("k", b"v", ttl_seconds=60),
                lambda: cache.delete("k"),
                lambda: cache.generation("scope"),
                lambda: cache.bump("scope"),
                lambda: cache.lookup("scope", "k"),
                cache.ping,
            ]
            for operation in operations:
                started = time.monotonic()
                with pytest.raises(DependencyUnavailable) as error:
                    await operation()
                assert time.monotonic() - started < 1.5  # operation_timeout 0.5 s, plus slack for a loaded machine
                _assert_unavailable(error)

            server.restart()  # empty: no persistence, scripts forgotten too

            await cache.ping()
            assert await cache.get("k") is None
            await cache.set("k", b"after", ttl_seconds=60)
            assert await cache.get("k") == b"after"
            assert await cache.bump("scope") > generation  # the Lua script is loaded again


@pytest.mark.real_service
async def test_redis_cache_gives_up_on_a_hung_server_within_its_timeout() -> None:
    with private_redis_server() as server:
        async with redis_client(server.url) as client:
            cache = RedisCache(client, namespace="hung", operation_timeout=0.3)
            await cache.set("k", b"v", ttl_seconds=60)

            server.pause()
            started = time.monotonic()
            with pytest.raises(DependencyUnavailable) as error:
                await cache.get("k")
            elapsed = time.monotonic() - started
            server.resume()

            _assert_unavailable(error)
            assert 0.25 < elapsed < 1.5  # operation_timeout 0.3 s, plus slack for a loaded machine
            assert await cache.get("k") == b"v"
