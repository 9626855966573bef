"""The RefreshTokenStore contract, run against the memory store and the Redis store.

A family has one current token id. Rotating with it moves the family on; presenting any
other id is reuse of a stolen or replayed token and revokes the whole family. A family that
was never started or has expired counts as revoked (fail closed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory.refresh_tokens import MemoryRefreshTokenStore
from adapters.redis.refresh_tokens import RedisRefreshTokenStore
from domain.errors import DependencyUnavailable
from domain.ports import RefreshTokenStore
from tests.support.redis import private_redis_server, redis_client, unique_namespace


class FakeWallClock:
    """Unix seconds, starting at the real time so datetimes built from it are ordinary."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    async def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    store: RefreshTokenStore
    now: Callable[[], datetime]
    advance: Callable[[float], Awaitable[None]]

    def in_a_day(self) -> datetime:
        return self.now() + timedelta(days=1)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.real_service)])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        clock = FakeWallClock()
        yield Harness(MemoryRefreshTokenStore(clock=clock), clock.datetime, clock.advance)
        return
    async with redis_client() as client:
        store = RedisRefreshTokenStore(client, namespace=unique_namespace())
        yield Harness(store, lambda: datetime.now(UTC), asyncio.sleep)


async def test_rotation_moves_the_family_on(harness: Harness) -> None:
    store = harness.store
    await store.start_family("fam", "user-1", "t1", harness.in_a_day())
    assert not await store.is_revoked("fam")

    assert await store.rotate("fam", "t1", "t2")
    assert await store.rotate("fam", "t2", "t3")
    assert not await store.is_revoked("fam")


async def test_reusing_a_rotated_id_revokes_the_family(harness: Harness) -> None:
    store = harness.store
    await store.start_family("fam", "user-1", "t1", harness.in_a_day())
    assert await store.rotate("fam", "t1", "t2")

    assert not await store.rotate("fam", "t1", "stolen")

    assert await store.is_revoked("fam")
    assert not await store.rotate("fam", "t2", "t3")  # the legitimate holder is out too
    assert not await store.rotate("fam", "stolen", "t4")


async def test_an_unknown_id_counts_as_reuse(harness: Harness) -> None:
    await harness.store.start_family("fam", "user-1", "t1", harness.in_a_day())

    assert not await harness.store.rotate("fam", "made-up", "t2")
    assert await harness.store.is_revoked("fam")


async def test_revoke_family(harness: Harness) -> None:
    store = harness.store
    await store.start_family("fam", "user-1", "t1", harness.in_a_day())

    await store.revoke_family("fam")
    await store.revoke_family("fam")  # idempotent

    assert await store.is_revoked("fam")
    assert not await store.rotate("fam", "t1", "t2")


async def test_families_are_independent(harness: Harness) -> None:
    store = harness.store
    await store.start_family("a", "user-1", "t1", harness.in_a_day())
    await store.start_family("b", "user-1", "t1", harness.in_a_day())

    await store.revoke_family("a")

    assert not await store.is_revoked("b")
    assert await store.rotate("b", "t1", "t2")


async def test_an_unknown_family_counts_as_revoked(harness: Harness) -> None:
    store = harness.store

    assert await store.is_revoked("never-started")
    assert not await store.rotate("never-started", "t1", "t2")
    await store.revoke_family("never-started")
    assert await store.is_revoked("never-started")


async def test_a_family_expires_with_its_tokens(harness: Harness) -> None:
    store = harness.store
    await store.start_family("short", "user-1", "t1", harness.now() + timedelta(seconds=0.4))
    await store.start_family("long", "user-1", "t1", harness.in_a_day())
    assert not await store.is_revoked("short")

    await harness.advance(0.5)

    assert await store.is_revoked("short")
    assert not await store.rotate("short", "t1", "t2")
    assert await store.rotate("long", "t1", "t2")


async def test_a_family_cannot_be_started_twice(harness: Harness) -> None:
    store = harness.store
    await store.start_family("fam", "user-1", "t1", harness.in_a_day())
    await store.revoke_family("fam")

    with pytest.raises(ValueError, match="already exists"):
        await store.start_family("fam", "user-1", "t9", harness.in_a_day())

    assert await store.is_revoked("fam")  # restarting never un-revokes


async def test_expiry_must_be_timezone_aware(harness: Harness) -> None:
    with pytest.raises(ValueError, match="timezone"):
        await harness.store.start_family("fam", "user-1", "t1", datetime(2100, 1, 1))


async def test_concurrent_rotations_of_one_id_let_exactly_one_through(harness: Harness) -> None:
    store = harness.store
    await store.start_family("fam", "user-1", "t1", harness.in_a_day())

    results = await asyncio.gather(*(store.rotate("fam", "t1", f"new-{i}") for i in range(20)))

    assert results.count(True) == 1
    # The losers presented an id that was no longer current: reuse, so the family is revoked.
    assert await store.is_revoked("fam")


# --- redis only ----------------------------------------------------------------------------


@pytest.mark.real_service
async def test_redis_family_key_expires_at_the_family_expiry() -> None:
    async with redis_client() as client:
        namespace = unique_namespace()
        store = RedisRefreshTokenStore(client, namespace=namespace)
        expires_at = datetime.now(UTC) + timedelta(hours=1)
        await store.start_family("fam", "user-1", "t1", expires_at)
        await store.rotate("fam", "t1", "t2")

        remaining = await client.pttl(f"{namespace}:rt:fam")
        # an absolute expiry (PEXPIREAT): Redis's clock and ours may differ by a millisecond or so
        assert 3_590_000 < remaining <= 3_601_000


@pytest.mark.real_service
async def test_redis_store_reports_an_outage_and_recovers_with_the_same_object() -> None:
    with private_redis_server() as server:
        async with redis_client(server.url) as client:
            store = RedisRefreshTokenStore(client, namespace="outage")
            await store.start_family("fam", "user-1", "t1", datetime.now(UTC) + timedelta(days=1))

            server.kill()
            with pytest.raises(DependencyUnavailable):
                await store.rotate("fam", "t1", "t2")
            with pytest.raises(DependencyUnavailable):
                await store.is_revoked("fam")

            server.restart()  # empty: the family is gone, and so are the loaded scripts

            assert await store.is_revoked("fam")
            await store.start_family("fam2", "user-1", "t1", datetime.now(UTC) + timedelta(days=1))
            assert await store.rotate("fam2", "t1", "t2")
