"""Idempotency keys on Redis: one hash per scope key.

``{namespace}:idem:{scope_key}`` holds ``state`` (``claimed`` | ``completed``), ``fp`` (the
request fingerprint) and, once completed, ``status``, ``headers`` (JSON pairs) and ``body``.
``begin``, ``complete`` and ``release`` are each one Lua script, so they are atomic.
"""

from __future__ import annotations

import json

from redis.asyncio import Redis

from adapters.redis.client import guarded
from domain.ports import IdempotencyState, IdempotentResponse

# KEYS[1]: record; ARGV: fingerprint, claim TTL (ms).
_BEGIN = """
local r = redis.call('HMGET', KEYS[1], 'state', 'fp', 'status', 'headers', 'body')
if not r[1] then
  redis.call('HSET', KEYS[1], 'state', 'claimed', 'fp', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'claimed'}
end
if r[2] ~= ARGV[1] then return {'mismatch'} end
if r[1] == 'claimed' then return {'in_flight'} end
return {'completed', r[3], r[4], r[5]}
"""

# KEYS[1]: record; ARGV: fingerprint, status, headers, body, TTL (ms). The first response stays.
_COMPLETE = """
if redis.call('HGET', KEYS[1], 'state') == 'completed' then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'completed', 'fp', ARGV[1], 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""

_RELEASE = """
if redis.call('HGET', KEYS[1], 'state') == 'claimed' then redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisIdempotencyStore:
    def __init__(
        self,
        client: Redis,
        *,
        namespace: str = "trellis",
        ttl_seconds: int = 24 * 3600,
        claim_ttl_seconds: int = 60,
        operation_timeout: float = 0.5,
    ) -> None:
        if ttl_seconds < 1 or claim_ttl_seconds < 1:
            raise ValueError("TTLs must be at least 1 second")
        self._prefix = f"{namespace}:idem:"
        self._ttl_ms = ttl_seconds * 1000
        self._claim_ttl_ms = claim_ttl_seconds * 1000
        self._timeout = operation_timeout
        self._begin = client.register_script(_BEGIN)
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)

    async def begin(self, scope_key: str, fingerprint: str) -> tuple[IdempotencyState, IdempotentResponse | None]:
        async with guarded(self._timeout):
            reply = await self._begin(keys=[self._prefix + scope_key], args=[fingerprint, self._claim_ttl_ms])
        state = IdempotencyState(bytes(reply[0]).decode())
        if state is not IdempotencyState.COMPLETED:
            return state, None
        status, headers, body = reply[1:]
        response = IdempotentResponse(
            fingerprint=fingerprint,
            status=int(status),
            headers=tuple((str(name), str(value)) for name, value in json.loads(headers)),
            body=bytes(body),
        )
        return state, response

    async def complete(self, scope_key: str, response: IdempotentResponse) -> None:
        headers = json.dumps([list(pair) for pair in response.headers])
        args: list[str | int | bytes] = [response.fingerprint, response.status, headers, response.body, self._ttl_ms]
        async with guarded(self._timeout):
            await self._complete(keys=[self._prefix + scope_key], args=args)

    async def release(self, scope_key: str) -> None:
        async with guarded(self._timeout):
            await self._release(keys=[self._prefix + scope_key])
