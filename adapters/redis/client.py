"""The one Redis client (and connection pool) the Redis adapters share, and error translation.

Timeouts are short on purpose: the cache is a bypassable optimisation, so a slow or dead Redis
must cost a request at most a fraction of a second. redis-py retries a failed command once on
a fresh connection (``Retry(NoBackoff(), 1)``): after Redis restarts, the first command on a
pooled connection to the old process fails and the retry reconnects, so the same client keeps
working without being re-created. ``operation_timeout`` bounds a whole call, retries included.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from domain.errors import DependencyUnavailable

DEPENDENCY = "redis"


def create_client(
    url: str,
    *,
    socket_timeout: float = 0.5,
    connect_timeout: float = 0.5,
    max_connections: int = 64,
) -> Redis:
    """A client with its own pool, closed by ``await client.aclose()``. Connects lazily."""
    return Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        retry=Retry(NoBackoff(), 1),
        max_connections=max_connections,
        decode_responses=False,
    )


@asynccontextmanager
async def guarded(operation_timeout: float) -> AsyncIterator[None]:
    """Bound a Redis call by ``operation_timeout`` and turn any failure of it into
    ``DependencyUnavailable("redis")``. Cancellation is left alone."""
    try:
        async with asyncio.timeout(operation_timeout):
            yield
    except (RedisError, OSError) as exc:  # OSError includes TimeoutError (asyncio.timeout's)
        raise DependencyUnavailable(DEPENDENCY) from exc
