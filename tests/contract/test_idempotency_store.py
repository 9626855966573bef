"""The IdempotencyStore contract, run against the memory store and the Redis store.

``begin`` claims a fresh key atomically; the claimant runs the request and then ``complete``s
(the response is kept for the TTL and replayed) or ``release``s (a retry may run it again).
The same key with another request fingerprint is a mismatch, whatever state the key is in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from adapters.memory.idempotency import MemoryIdempotencyStore
from adapters.redis.idempotency import RedisIdempotencyStore
from domain.errors import DependencyUnavailable
from domain.ports import IdempotencyState, IdempotencyStore, IdempotentResponse
from tests.support.redis import private_redis_server, redis_client, unique_namespace

CLAIMED, IN_FLIGHT, COMPLETED, MISMATCH = (
    IdempotencyState.CLAIMED,
    IdempotencyState.IN_FLIGHT,
    IdempotencyState.COMPLETED,
    IdempotencyState.MISMATCH,
)


def response(fingerprint: str = "fp-1", body: bytes = b'{"status":"success","data":{"id":"p1"}}') -> IdempotentResponse:
    return IdempotentResponse(
        fingerprint=fingerprint,
        status=201,
        headers=(("content-type", "application/json"), ("location", "/api/v1/projects/p1"), ("x-note", "naïve ✓")),
        body=body,
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 5_000.0

    def __call__(self) -> float:
        return self.now

    async def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    make: Callable[..., IdempotencyStore]  # make(ttl_seconds=…, claim_ttl_seconds=…)
    advance: Callable[[float], Awaitable[None]]

    @property
    def store(self) -> IdempotencyStore:
        return self.make()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.real_service)])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        clock = FakeClock()
        yield Harness(lambda **ttls: MemoryIdempotencyStore(clock=clock, **ttls), clock.advance)
        return
    async with redis_client() as client:
        namespace = unique_namespace()
        yield Harness(lambda **ttls: RedisIdempotencyStore(client, namespace=namespace, **ttls), asyncio.sleep)


async def test_a_fresh_key_is_claimed(harness: Harness) -> None:
    assert await harness.store.begin("user-1:key-1", "fp-1") == (CLAIMED, None)


async def test_a_claimed_key_is_in_flight_for_the_same_request(harness: Harness) -> None:
    store = harness.store
    await store.begin("user-1:key-1", "fp-1")

    assert await store.begin("user-1:key-1", "fp-1") == (IN_FLIGHT, None)
    assert await store.begin("user-1:key-1", "fp-other") == (MISMATCH, None)


async def test_a_completed_key_replays_the_exact_response(harness: Harness) -> None:
    store = harness.store
    stored = response(body=bytes(range(256)))
    await store.begin("user-1:key-1", "fp-1")

    await store.complete("user-1:key-1", stored)

    assert await store.begin("user-1:key-1", "fp-1") == (COMPLETED, stored)
    assert await store.begin("user-1:key-1", "fp-1") == (COMPLETED, stored)  # as often as asked


async def test_an_empty_response_round_trips(harness: Harness) -> None:
    store = harness.store
    empty = IdempotentResponse(fingerprint="fp-1", status=204, headers=(), body=b"")
    await store.begin("k", "fp-1")
    await store.complete("k", empty)

    assert await store.begin("k", "fp-1") == (COMPLETED, empty)


async def test_a_completed_key_with_another_request_is_a_mismatch(harness: Harness) -> None:
    store = harness.store
    await store.begin("user-1:key-1", "fp-1")
    await store.complete("user-1:key-1", response())

    assert await store.begin("user-1:key-1", "fp-2") == (MISMATCH, None)


async def test_release_lets_a_retry_claim_the_key(harness: Harness) -> None:
    store = harness.store
    await store.begin("k", "fp-1")

    await store.release("k")

    assert await store.begin("k", "fp-1") == (CLAIMED, None)


async def test_release_never_drops_a_stored_response(harness: Harness) -> None:
    store = harness.store
    await store.begin("k", "fp-1")
    await store.complete("k", response())

    await store.release("k")
    await store.release("never-claimed")

    assert await store.begin("k", "fp-1") == (COMPLETED, response())


async def test_the_first_stored_response_stays(harness: Harness) -> None:
    store = harness.store
    await store.begin("k", "fp-1")
    await store.complete("k", response(body=b"first"))

    await store.complete("k", response(body=b"second"))

    assert await store.begin("k", "fp-1") == (COMPLETED, response(body=b"first"))


async def test_keys_are_independent(harness: Harness) -> None:
    store = harness.store
    await store.begin("user-1:k", "fp-1")
    await store.complete("user-1:k", response())

    assert await store.begin("user-2:k", "fp-1") == (CLAIMED, None)


async def test_concurrent_begins_let_exactly_one_request_run(harness: Harness) -> None:
    store = harness.store

    results = await asyncio.gather(*(store.begin("k", "fp-1") for _ in range(20)))

    states = [state for state, _ in results]
    assert states.count(CLAIMED) == 1
    assert states.count(IN_FLIGHT) == 19


async def test_claims_and_responses_expire(harness: Harness) -> None:
    store = harness.make(ttl_seconds=1, claim_ttl_seconds=1)
    long_lived = harness.make()
    await store.begin("crashed", "fp-1")  # never completed: the process died
    await store.begin("done", "fp-1")
    await store.complete("done", response())
    await long_lived.begin("kept", "fp-1")
    await long_lived.complete("kept", response())

    await harness.advance(1.1)

    assert await store.begin("crashed", "fp-1") == (CLAIMED, None)
    assert await store.begin("done", "fp-2") == (CLAIMED, None)
    assert await long_lived.begin("kept", "fp-1") == (COMPLETED, response())


async def test_a_response_gets_the_full_ttl_not_the_claims(harness: Harness) -> None:
    store = harness.make(ttl_seconds=60, claim_ttl_seconds=1)
    await store.begin("k", "fp-1")
    await store.complete("k", response())

    await harness.advance(1.1)

    assert await store.begin("k", "fp-1") == (COMPLETED, response())


async def test_ttls_must_be_positive(harness: Harness) -> None:
    with pytest.raises(ValueError, match="TTL"):
        harness.make(ttl_seconds=0)
    with pytest.raises(ValueError, match="TTL"):
        harness.make(claim_ttl_seconds=0)


# --- redis only ----------------------------------------------------------------------------


@pytest.mark.real_service
async def test_redis_records_carry_the_ttls() -> None:
    async with redis_client() as client:
        namespace = unique_namespace()
        store = RedisIdempotencyStore(client, namespace=namespace)  # defaults: 24 h, claims 60 s
        await store.begin("claimed", "fp")
        await store.begin("done", "fp")
        await store.complete("done", response())

        assert 55 < await client.ttl(f"{namespace}:idem:claimed") <= 60
        assert 24 * 3600 - 10 < await client.ttl(f"{namespace}:idem:done") <= 24 * 3600


@pytest.mark.real_service
async def test_redis_store_reports_an_outage_and_recovers_with_the_same_object() -> None:
    with private_redis_server() as server:
        async with redis_client(server.url) as client:
            store = RedisIdempotencyStore(client, namespace="outage")
            await store.begin("k", "fp-1")

            server.kill()
            for operation in (
                lambda: store.begin("k", "fp-1"),
                lambda: store.complete("k", response()),
                lambda: store.release("k"),
            ):
                with pytest.raises(DependencyUnavailable):
                    await operation()

            server.restart()

            assert await store.begin("k", "fp-1") == (CLAIMED, None)
            await store.complete("k", response())
            assert await store.begin("k", "fp-1") == (COMPLETED, response())
