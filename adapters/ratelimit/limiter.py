"""``RateLimiter`` on the ``limits`` package: moving windows, atomic on Redis (Lua) and in memory.

Why ``limits`` rather than Litestar's ``RateLimitMiddleware``: Litestar's middleware reads the
history from the store, checks it and writes it back under a *process-local* lock, so two
replicas sharing Redis can both admit the last request of a window; it keeps one limit per
middleware instance and its 429 has no ``Retry-After``. ``limits`` counts in one atomic step
on the server (a Lua script on Redis), offers a moving window (no double burst at a window
boundary) and the same algorithm in memory, and it is not tied to HTTP, so the login
brute-force rule (an application concern) uses it through the same port.

The storage is built by ``entrypoints.bootstrap`` (``async+redis://…`` on redis-py with short
timeouts, or ``MemoryStorage``); any storage failure becomes ``DependencyUnavailable``.
"""

from __future__ import annotations

import asyncio
import math
import time
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from domain.errors import DependencyUnavailable
from domain.ports import RateDecision


@lru_cache(maxsize=64)
def _item(rate: str) -> RateLimitItem:
    return parse(rate)


class LimitsRateLimiter:
    def __init__(self, storage: Storage, *, dependency: str = "redis", operation_timeout: float = 0.5) -> None:
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self._dependency = dependency
        self._timeout = operation_timeout

    async def hit(self, rate: str, *key: str) -> RateDecision:
        item = _item(rate)
        try:
            async with asyncio.timeout(self._timeout):
                allowed = await self._strategy.hit(item, *key)
                stats = await self._strategy.get_window_stats(item, *key)
        except Exception as exc:  # any storage failure (driver, timeout, limits' own errors)
            raise DependencyUnavailable(self._dependency) from exc
        return _decision(item, allowed, stats.remaining, stats.reset_time)

    async def peek(self, rate: str, *key: str) -> RateDecision:
        item = _item(rate)
        try:
            async with asyncio.timeout(self._timeout):
                allowed = await self._strategy.test(item, *key)
                stats = await self._strategy.get_window_stats(item, *key)
        except Exception as exc:
            raise DependencyUnavailable(self._dependency) from exc
        return _decision(item, allowed, stats.remaining, stats.reset_time)

    async def clear(self, rate: str, *key: str) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._strategy.clear(_item(rate), *key)
        except Exception as exc:
            raise DependencyUnavailable(self._dependency) from exc

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                ok = await self._storage.check()
        except Exception as exc:
            raise DependencyUnavailable(self._dependency) from exc
        if not ok:
            raise DependencyUnavailable(self._dependency)


def _decision(item: RateLimitItem, allowed: bool, remaining: int, reset_time: float) -> RateDecision:
    reset_after = max(0, math.ceil(reset_time - time.time()))
    if not allowed:
        reset_after = max(1, reset_after)
    return RateDecision(allowed=allowed, limit=item.amount, remaining=max(0, remaining), reset_after=reset_after)
