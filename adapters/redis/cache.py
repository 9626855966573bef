"""The read cache on Redis.

Keys: ``{namespace}:cache:v:{key}`` for entries (``SET … EX``), ``{namespace}:cache:g:{scope}``
for generation counters. A counter is created by a Lua script from the server clock in
microseconds (``TIME``), then ``INCR``-ed, so one that was evicted or expired restarts above
every value it handed out before. Counters keep a long TTL, refreshed on every use.
"""

from __future__ import annotations

from redis.asyncio import Redis

from adapters.redis.client import guarded

# KEYS[1]: the counter; ARGV[1]: its TTL in ms; ARGV[2]: "1" to bump.
# The value is built as a string (Lua numbers are doubles and print as 1.7e+15).
_GENERATION = """
local v = redis.call('GET', KEYS[1])
if not v then
  local t = redis.call('TIME')
  v = t[1] .. string.sub('000000' .. t[2], -6)
  redis.call('SET', KEYS[1], v, 'PX', ARGV[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
if ARGV[2] == '1' then
  return redis.call('INCR', KEYS[1])
end
return v
"""


# The generation as above (never bumped), then the entry under ARGV[2] .. ':' .. generation:
# one round trip for a cache-aside read. That key is built inside the script, so the script is
# not Redis Cluster-safe (the cache runs on one Redis). Returns {generation, value or nil}.
_LOOKUP = """
local v = redis.call('GET', KEYS[1])
if not v then
  local t = redis.call('TIME')
  v = t[1] .. string.sub('000000' .. t[2], -6)
  redis.call('SET', KEYS[1], v, 'PX', ARGV[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return {v, redis.call('GET', ARGV[2] .. ':' .. v)}
"""


class RedisCache:
    def __init__(
        self,
        client: Redis,
        *,
        namespace: str = "trellis",
        operation_timeout: float = 0.5,
        generation_ttl_seconds: int = 7 * 24 * 3600,
    ) -> None:
        self._client = client
        self._values = f"{namespace}:cache:v:"
        self._generations = f"{namespace}:cache:g:"
        self._timeout = operation_timeout
        self._generation_ttl_ms = generation_ttl_seconds * 1000
        self._generation_script = client.register_script(_GENERATION)
        self._lookup_script = client.register_script(_LOOKUP)

    async def get(self, key: str) -> bytes | None:
        async with guarded(self._timeout):
            value = await self._client.get(self._values + key)
        if isinstance(value, str):  # only with decode_responses=True, which create_client never sets
            return value.encode()
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        async with guarded(self._timeout):
            await self._client.set(self._values + key, value, ex=ttl_seconds)

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        async with guarded(self._timeout):
            await self._client.delete(*(self._values + key for key in keys))

    async def generation(self, scope: str) -> int:
        return await self._run_generation(scope, bump=False)

    async def bump(self, scope: str) -> int:
        return await self._run_generation(scope, bump=True)

    async def lookup(self, scope: str, key: str) -> tuple[int, bytes | None]:
        async with guarded(self._timeout):
            generation, value = await self._lookup_script(
                keys=[self._generations + scope], args=[self._generation_ttl_ms, self._values + key]
            )
        return int(generation), value

    async def ping(self) -> None:
        async with guarded(self._timeout):
            await self._client.ping()

    async def _run_generation(self, scope: str, *, bump: bool) -> int:
        async with guarded(self._timeout):
            value = await self._generation_script(
                keys=[self._generations + scope], args=[self._generation_ttl_ms, "1" if bump else "0"]
            )
        return int(value)
