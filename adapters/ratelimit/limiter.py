"""``RateLimiter``: moving windows, in this process or atomic on Redis in one round trip.

A moving window counts the hits of the last ``period`` seconds (no double burst at a window
boundary, unlike fixed windows). Rates are written in the ``limits`` notation (``120/minute``,
``5 per 15 minutes``) and parsed by that package; the counting is done here, because each
request must cost at most one step on the store:

- ``InProcessRateLimiter`` (the embedded default): per key a deque of hit times, oldest first;
  expired hits leave from the left, so a check is O(1) amortised. Keys whose window emptied are
  swept now and then. Per process, like every embedded default.
- ``RedisRateLimiter``: per key a Redis list of hit times (server clock, microseconds), newest
  first. One Lua script drops the expired tail, decides, records the hit and reads the window's
  count and oldest entry — one atomic round trip per request, shared by every replica (before,
  ``limits``' Redis strategy took two scripts: acquire, then window statistics). Any failure
  (driver error, timeout) is ``DependencyUnavailable``; callers decide whether to fail open.

The same limiter serves the login brute-force rule in the application layer (``peek``/``hit``/
``clear``) through the port.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from functools import lru_cache

from limits import parse
from redis.asyncio import Redis

from domain.errors import DependencyUnavailable
from domain.ports import RateDecision


@lru_cache(maxsize=64)
def _rate(rate: str) -> tuple[int, int, str]:
    """(allowed hits, period in seconds, the rate's part of a key) for ``120/minute``."""
    item = parse(rate)
    period = int(item.get_expiry())
    return item.amount, period, f"{item.amount}/{period}"


def _decision(limit: int, allowed: bool, count: int, reset_after: float) -> RateDecision:
    reset = max(0, math.ceil(reset_after))
    if not allowed:
        reset = max(1, reset)
    return RateDecision(allowed=allowed, limit=limit, remaining=max(0, limit - count), reset_after=reset)


class InProcessRateLimiter:
    """Moving windows in this process (the embedded default)."""

    SWEEP_EVERY = 4096  # hits between sweeps of windows that emptied

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, deque[float]]] = {}
        self._until_sweep = self.SWEEP_EVERY

    async def hit(self, rate: str, *key: str) -> RateDecision:
        return self._check(rate, key, count_hit=True)

    async def peek(self, rate: str, *key: str) -> RateDecision:
        return self._check(rate, key, count_hit=False)

    async def clear(self, rate: str, *key: str) -> None:
        self._windows.pop(self._key(rate, key), None)

    async def ping(self) -> None:
        return None

    @staticmethod
    def _key(rate: str, key: tuple[str, ...]) -> str:
        return f"{_rate(rate)[2]}:{':'.join(key)}"

    def _check(self, rate: str, key: tuple[str, ...], *, count_hit: bool) -> RateDecision:
        limit, period, rate_key = _rate(rate)
        name = f"{rate_key}:{':'.join(key)}"
        now = self._clock()
        edge = now - period
        entry = self._windows.get(name)
        hits = entry[1] if entry is not None else None
        if hits is not None:
            while hits and hits[0] <= edge:
                hits.popleft()
        count = len(hits) if hits is not None else 0
        allowed = count < limit
        if allowed and count_hit:
            if hits is None:
                hits = deque()
                self._windows[name] = (period, hits)
            hits.append(now)
            count += 1
            self._until_sweep -= 1
            if self._until_sweep <= 0:
                self._sweep(now)
        oldest = hits[0] if hits else now
        return _decision(limit, allowed, count, oldest - edge)

    def _sweep(self, now: float) -> None:
        self._until_sweep = self.SWEEP_EVERY
        stale = [name for name, (period, hits) in self._windows.items() if not hits or hits[-1] <= now - period]
        for name in stale:
            del self._windows[name]


# KEYS[1]: the window, a list of hit times in microseconds (server clock), newest first.
# ARGV[1]: allowed hits; ARGV[2]: period in microseconds; ARGV[3]: the key's TTL in ms;
# ARGV[4]: '1' to count a hit, '0' to peek.
# Returns {allowed (1/0), hits in the window, microseconds until its oldest hit leaves it}.
# Times are built and compared as strings/doubles: microsecond stamps (~1.8e15) are exact in a
# double, but a Lua number passed to redis.call would be formatted as 1.8e+15.
_MOVING_WINDOW = """
local t = redis.call('TIME')
local stamp = t[1] .. string.sub('000000' .. t[2], -6)
local now = tonumber(stamp)
local edge = now - tonumber(ARGV[2])
while true do
  local tail = redis.call('LINDEX', KEYS[1], -1)
  if not tail or tonumber(tail) > edge then break end
  redis.call('RPOP', KEYS[1])
end
local count = redis.call('LLEN', KEYS[1])
local allowed = count < tonumber(ARGV[1])
if allowed and ARGV[4] == '1' then
  redis.call('LPUSH', KEYS[1], stamp)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  count = count + 1
end
local oldest = now
if count > 0 then oldest = tonumber(redis.call('LINDEX', KEYS[1], -1)) end
return {allowed and 1 or 0, count, math.floor(oldest - edge)}
"""


class RedisRateLimiter:
    """Moving windows on Redis: one atomic script (one round trip) per check."""

    def __init__(
        self,
        client: Redis,
        *,
        key_prefix: str = "trellis:rl",
        operation_timeout: float = 0.5,
        dependency: str = "redis",
    ) -> None:
        self._client = client
        self._prefix = f"{key_prefix}:"
        self._timeout = operation_timeout
        self._dependency = dependency
        self._script = client.register_script(_MOVING_WINDOW)

    async def hit(self, rate: str, *key: str) -> RateDecision:
        return await self._check(rate, key, count_hit=True)

    async def peek(self, rate: str, *key: str) -> RateDecision:
        return await self._check(rate, key, count_hit=False)

    async def clear(self, rate: str, *key: str) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.delete(self._key(rate, key))
        except Exception as exc:
            raise DependencyUnavailable(self._dependency) from exc

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.ping()
        except Exception as exc:
            raise DependencyUnavailable(self._dependency) from exc

    def _key(self, rate: str, key: tuple[str, ...]) -> str:
        return f"{self._prefix}{_rate(rate)[2]}:{':'.join(key)}"

    async def _check(self, rate: str, key: tuple[str, ...], *, count_hit: bool) -> RateDecision:
        limit, period, rate_key = _rate(rate)
        args = (limit, period * 1_000_000, period * 1000, "1" if count_hit else "0")
        try:
            async with asyncio.timeout(self._timeout):
                name = f"{self._prefix}{rate_key}:{':'.join(key)}"
                allowed, count, reset_us = await self._script(keys=[name], args=args)
        except Exception as exc:  # any store failure (driver, timeout, a script error)
            raise DependencyUnavailable(self._dependency) from exc
        return _decision(limit, bool(allowed), int(count), int(reset_us) / 1_000_000)
