"""The read cache in process memory: a TTL cache bounded in size (least recently used goes first).

Time comes from ``clock`` (seconds, monotonic by default) so tests can move it. Generations
are drawn from one counter for the whole cache, so a scope whose counter was evicted starts
again above every generation handed out before — an old entry can never be read again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

_V = TypeVar("_V")


class MemoryCache:
    def __init__(self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._generations: OrderedDict[str, int] = OrderedDict()
        self._last_generation = 0

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        self._entries[key] = (self._clock() + ttl_seconds, bytes(value))
        self._entries.move_to_end(key)
        self._evict(self._entries)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def generation(self, scope: str) -> int:
        current = self._generations.get(scope)
        if current is None:
            return self._advance(scope)
        self._generations.move_to_end(scope)
        return current

    async def bump(self, scope: str) -> int:
        return self._advance(scope)

    async def lookup(self, scope: str, key: str) -> tuple[int, bytes | None]:
        generation = await self.generation(scope)
        return generation, await self.get(f"{key}:{generation}")

    async def ping(self) -> None:
        return None

    def _advance(self, scope: str) -> int:
        self._last_generation += 1
        self._generations[scope] = self._last_generation
        self._generations.move_to_end(scope)
        self._evict(self._generations)
        return self._last_generation

    def _evict(self, entries: OrderedDict[str, _V]) -> None:
        while len(entries) > self._max_entries:
            entries.popitem(last=False)
