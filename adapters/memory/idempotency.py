"""Idempotency keys in process memory, with the Redis adapter's contract.

Time comes from ``clock`` (seconds, monotonic by default). Every operation runs without an
``await`` in between, so it is atomic on the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from domain.ports import IdempotencyState, IdempotentResponse


@dataclass(slots=True)
class _Record:
    fingerprint: str
    expires_at: float
    response: IdempotentResponse | None = None  # None while claimed


class MemoryIdempotencyStore:
    def __init__(
        self,
        *,
        ttl_seconds: int = 24 * 3600,
        claim_ttl_seconds: int = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds < 1 or claim_ttl_seconds < 1:
            raise ValueError("TTLs must be at least 1 second")
        self._ttl = ttl_seconds
        self._claim_ttl = claim_ttl_seconds
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._purge_above = 1024

    async def begin(self, scope_key: str, fingerprint: str) -> tuple[IdempotencyState, IdempotentResponse | None]:
        record = self._live(scope_key)
        if record is None:
            self._store(scope_key, _Record(fingerprint=fingerprint, expires_at=self._clock() + self._claim_ttl))
            return IdempotencyState.CLAIMED, None
        if record.fingerprint != fingerprint:
            return IdempotencyState.MISMATCH, None
        if record.response is None:
            return IdempotencyState.IN_FLIGHT, None
        return IdempotencyState.COMPLETED, record.response

    async def complete(self, scope_key: str, response: IdempotentResponse) -> None:
        record = self._live(scope_key)
        if record is not None and record.response is not None:
            return
        self._store(
            scope_key,
            _Record(fingerprint=response.fingerprint, expires_at=self._clock() + self._ttl, response=response),
        )

    async def release(self, scope_key: str) -> None:
        record = self._live(scope_key)
        if record is not None and record.response is None:
            del self._records[scope_key]

    def _live(self, scope_key: str) -> _Record | None:
        record = self._records.get(scope_key)
        if record is not None and record.expires_at <= self._clock():
            del self._records[scope_key]
            return None
        return record

    def _store(self, scope_key: str, record: _Record) -> None:
        self._records[scope_key] = record
        if len(self._records) > self._purge_above:  # amortised O(1): purge when the dict has doubled
            now = self._clock()
            self._records = {k: r for k, r in self._records.items() if r.expires_at > now}
            self._purge_above = max(1024, 2 * len(self._records))
