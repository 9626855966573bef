"""Refresh-token families on Redis: one hash per family, expiring with the family.

``{namespace}:rt:{family_id}`` holds ``subject``, ``current`` (the only token id that may be
rotated) and ``revoked``. Every change is one Lua script, so a rotation is atomic: of several
concurrent rotations presenting the same id exactly one succeeds, and the others are reuse of
an id that is no longer current — which revokes the family. A family that was never started
or has expired counts as revoked (fail closed).
"""

from __future__ import annotations

import math
from datetime import datetime

from redis.asyncio import Redis

from adapters.redis.client import guarded

# KEYS[1]: family; ARGV: subject, token id, expiry (unix ms). 0 if the family already exists.
_START = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'subject', ARGV[1], 'current', ARGV[2], 'revoked', '0')
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
"""

# KEYS[1]: family; ARGV: presented id, new id. 1 when rotated.
_ROTATE = """
local f = redis.call('HMGET', KEYS[1], 'current', 'revoked')
if not f[1] or f[2] == '1' then return 0 end
if f[1] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'current', ARGV[2])
  return 1
end
redis.call('HSET', KEYS[1], 'revoked', '1')
return 0
"""

_REVOKE = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'revoked', '1') end
return 0
"""


def _unix_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    return math.ceil(moment.timestamp() * 1000)


class RedisRefreshTokenStore:
    def __init__(self, client: Redis, *, namespace: str = "trellis", operation_timeout: float = 0.5) -> None:
        self._client = client
        self._prefix = f"{namespace}:rt:"
        self._timeout = operation_timeout
        self._start = client.register_script(_START)
        self._rotate = client.register_script(_ROTATE)
        self._revoke = client.register_script(_REVOKE)

    async def start_family(self, family_id: str, subject: str, token_id: str, expires_at: datetime) -> None:
        expiry = _unix_ms(expires_at)
        async with guarded(self._timeout):
            started = await self._start(keys=[self._prefix + family_id], args=[subject, token_id, expiry])
        if not started:
            raise ValueError(f"refresh-token family {family_id!r} already exists")

    async def rotate(self, family_id: str, presented_token_id: str, new_token_id: str) -> bool:
        async with guarded(self._timeout):
            rotated = await self._rotate(keys=[self._prefix + family_id], args=[presented_token_id, new_token_id])
        return bool(rotated)

    async def revoke_family(self, family_id: str) -> None:
        async with guarded(self._timeout):
            await self._revoke(keys=[self._prefix + family_id])

    async def is_revoked(self, family_id: str) -> bool:
        async with guarded(self._timeout):
            current, revoked = await self._client.hmget(self._prefix + family_id, ["current", "revoked"])
        return current is None or revoked == b"1"
