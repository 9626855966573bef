"""What the read cache reports, turned into log lines and a Prometheus counter.

The application layer (``application.caching``) knows neither structlog nor prometheus_client;
it calls a ``CacheObserver``, and this is the one the service uses.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from application.caching import CacheResult
from entrypoints.observability.metrics import CACHE_EVENTS, CACHE_INVALIDATION_FAILURES

log = structlog.get_logger("trellis.cache")


class LoggingCacheObserver:
    def __init__(self) -> None:
        # one series per result, looked up once (a lookup by label costs more than the increment)
        self._events = {result: CACHE_EVENTS.labels(result=result.value) for result in CacheResult}

    def lookup(self, result: CacheResult, kind: str, error: Exception | None = None) -> None:
        self._events[result].inc()
        if result is CacheResult.BYPASS:
            log.warning("cache_bypass", kind=kind, error=type(error).__name__ if error else None)

    def invalidation_failed(self, scopes: Sequence[str], error: Exception) -> None:
        CACHE_INVALIDATION_FAILURES.inc()
        log.error(
            "cache_invalidation_failed",
            scopes=list(scopes),
            error=type(error).__name__,
            consequence="entries of these scopes may be served until their TTL expires",
        )
