"""Refresh-token families in process memory, with the Redis adapter's contract.

Expiry is checked against ``clock`` (unix seconds, ``time.time`` by default: family expiries
are wall-clock datetimes). A family that was never started or has expired counts as revoked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class _Family:
    subject: str
    current: str
    expires_at: float
    revoked: bool = False


class MemoryRefreshTokenStore:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._families: dict[str, _Family] = {}
        self._purge_above = 1024

    async def start_family(self, family_id: str, subject: str, token_id: str, expires_at: datetime) -> None:
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        if self._live(family_id) is not None:
            raise ValueError(f"refresh-token family {family_id!r} already exists")
        self._families[family_id] = _Family(subject=subject, current=token_id, expires_at=expires_at.timestamp())
        if len(self._families) > self._purge_above:  # amortised O(1): purge when the dict has doubled
            now = self._clock()
            self._families = {k: f for k, f in self._families.items() if f.expires_at > now}
            self._purge_above = max(1024, 2 * len(self._families))

    async def rotate(self, family_id: str, presented_token_id: str, new_token_id: str) -> bool:
        family = self._live(family_id)
        if family is None or family.revoked:
            return False
        if family.current != presented_token_id:
            family.revoked = True
            return False
        family.current = new_token_id
        return True

    async def revoke_family(self, family_id: str) -> None:
        family = self._live(family_id)
        if family is not None:
            family.revoked = True

    async def is_revoked(self, family_id: str) -> bool:
        family = self._live(family_id)
        return family is None or family.revoked

    def _live(self, family_id: str) -> _Family | None:
        family = self._families.get(family_id)
        if family is not None and family.expires_at <= self._clock():
            del self._families[family_id]
            return None
        return family
