"""Clocks: the system's (UTC) and a fixed one that tests set and advance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DEFAULT_FIXED_TIME = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


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
