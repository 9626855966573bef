"""Clocks: the system's (UTC) and a fixed one that tests set and advance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DEFAULT_FIXED_TIME = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


class SystemClock:
    """UTC now, truncated to milliseconds: BSON dates hold milliseconds, so a record reads back
    exactly as it was written whichever store holds it."""

    def now(self) -> datetime:
        moment = datetime.now(UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class FixedClock:
    """A clock that only moves when told to; ``now()`` is always timezone-aware UTC."""

    def __init__(self, at: datetime = DEFAULT_FIXED_TIME) -> None:
        self._now = _utc(at)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = _utc(at)

    def advance(self, by: timedelta | float = 1.0) -> datetime:
        """Move forward by a timedelta or a number of seconds; returns the new time."""
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        self._now += step
        return self._now


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the clock needs a timezone-aware datetime")
    return at.astimezone(UTC)
