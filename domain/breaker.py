"""A circuit breaker shared by the adapters that call other services (weather, text analysis, OpenID).

Pure and synchronous (the standard library only, the clock injected) so that every adapter may
import it without importing each other, and so its state machine is tested without sleeping:

- **closed**: every call is allowed; ``threshold`` consecutive failures open the circuit;
  a success resets the count;
- **open**: no call is allowed for ``cooldown`` seconds (callers fail fast);
- **half-open** (the cool-down has passed): one trial call is let through; while it is in
  flight the others still fail fast. Its success closes the circuit, its failure opens it again
  for another ``cooldown``. A trial that never reports (its caller was cancelled) stops holding
  the door after ``cooldown`` seconds, when the next caller becomes the trial.

Hand-written (about forty lines) rather than a dependency: the libraries on PyPI (pybreaker,
aiobreaker, circuitbreaker) are either synchronous, unmaintained, or bring storage backends we
do not want. One event loop, no locks: ``allow``/``success``/``failure`` never await.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Fail fast after ``threshold`` consecutive failures, for ``cooldown`` seconds."""

    def __init__(self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic) -> None:
        if threshold < 1 or not cooldown > 0:
            raise ValueError("threshold must be >= 1 and cooldown > 0")
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_at: float | None = None  # when the half-open trial call was let through

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self._opened_at >= self.cooldown else "open"

    @property
    def failures(self) -> int:
        """Consecutive failures so far."""
        return self._failures

    def retry_in(self) -> float:
        """Seconds until a trial call may be allowed (0 when closed or half-open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.cooldown - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """May a call go out now? In half-open, ``True`` for the one trial call only."""
        state = self.state
        if state == "closed":
            return True
        if state == "open":
            return False
        now = self._clock()
        if self._trial_at is not None and now - self._trial_at < self.cooldown:
            return False  # a trial is in flight
        self._trial_at = now
        return True

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_at = None

    def failure(self) -> None:
        self._failures += 1
        if self._opened_at is not None or self._failures >= self.threshold:
            self._opened_at = self._clock()  # (re)open: a failed trial call starts a new cool-down
            self._trial_at = None
