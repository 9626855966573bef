"""``ScheduleStore`` on Redis: one lock per scheduled job (SET NX PX, released by token) and
its last run, shared by every scheduler process."""

from __future__ import annotations

import uuid
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.errors import DependencyUnavailable

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisScheduleStore:
    def __init__(self, redis: Redis, prefix: str = "trellis:schedule") -> None:
        self._redis = redis
        self._prefix = prefix

    async def acquire(self, name: str, ttl_seconds: float) -> str | None:
        token = uuid.uuid4().hex
        try:
            taken = await self._redis.set(f"{self._prefix}:lock:{name}", token, nx=True, px=int(ttl_seconds * 1000))
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc
        return token if taken else None

    async def release(self, name: str, token: str) -> None:
        try:
            await self._redis.eval(_RELEASE, 1, f"{self._prefix}:lock:{name}", token)
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc

    async def last_run(self, name: str) -> datetime | None:
        try:
            raw = await self._redis.get(f"{self._prefix}:last:{name}")
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc
        if raw is None:
            return None
        return datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else str(raw))

    async def mark_run(self, name: str, at: datetime) -> int:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(f"{self._prefix}:last:{name}", at.isoformat())
                pipe.incr(f"{self._prefix}:runs:{name}")
                _ok, runs = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc
        return int(runs)
