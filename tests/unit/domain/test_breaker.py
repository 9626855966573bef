"""The shared circuit breaker: examples, then a Hypothesis state machine against a simple model."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_n_consecutive_failures_and_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(3, 10, Clock())
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    assert breaker.state == "closed"
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    assert breaker.retry_in() == 10


def test_half_open_lets_one_trial_through_and_its_success_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10, clock)
    breaker.failure()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state == "half_open"
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # the others while it is in flight
    breaker.success()
    assert breaker.state == "closed"
    assert breaker.allow()
    assert breaker.allow()


def test_a_failed_trial_reopens_for_a_whole_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(2, 10, clock)
    breaker.failure()
    breaker.failure()
    clock.now += 15
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open"
    assert breaker.retry_in() == 10


def test_a_trial_that_never_reports_stops_holding_the_door_after_a_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10, clock)
    breaker.failure()
    clock.now += 10
    assert breaker.allow()  # ...and its caller is cancelled: neither success nor failure
    clock.now += 9
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


@pytest.mark.parametrize(("threshold", "cooldown"), [(0, 1), (1, 0), (1, -1), (1, float("nan"))])
def test_bad_parameters_are_refused(threshold: int, cooldown: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker(threshold, cooldown)


THRESHOLD, COOLDOWN = 3, 10.0


class BreakerMachine(RuleBasedStateMachine):
    """The model: consecutive failures, when the circuit opened, whether a trial is in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.breaker = CircuitBreaker(THRESHOLD, COOLDOWN, self.clock)
        self.failures = 0
        self.opened_at: float | None = None
        self.trial_at: float | None = None

    def model_state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self.clock.now - self.opened_at >= COOLDOWN else "open"

    @rule(seconds=st.floats(min_value=0, max_value=2 * COOLDOWN, allow_nan=False))
    def time_passes(self, seconds: float) -> None:
        self.clock.now += seconds

    @rule()
    def ask(self) -> None:
        state = self.model_state()
        allowed = self.breaker.allow()
        if state == "closed":
            assert allowed
        elif state == "open":
            assert not allowed
        elif self.trial_at is not None and self.clock.now - self.trial_at < COOLDOWN:
            assert not allowed, "a second call went out while the trial was in flight"
        else:
            assert allowed, "half-open let no trial through"
            self.trial_at = self.clock.now

    @rule()
    def succeed(self) -> None:
        self.breaker.success()
        self.failures, self.opened_at, self.trial_at = 0, None, None

    @precondition(lambda self: self.model_state() != "open")  # callers only report calls that went out
    @rule()
    def fail(self) -> None:
        was = self.model_state()
        self.breaker.failure()
        self.failures += 1
        if was == "half_open" or self.failures >= THRESHOLD:
            self.opened_at, self.trial_at = self.clock.now, None
            assert self.breaker.state == "open"
            assert self.breaker.retry_in() == COOLDOWN
        else:
            assert self.breaker.state == "closed"

    @invariant()
    def agrees_with_the_model(self) -> None:
        assert self.breaker.state == self.model_state()
        assert self.breaker.failures == self.failures
        assert 0 <= self.breaker.retry_in() <= COOLDOWN


BreakerMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
test_breaker_state_machine = BreakerMachine.TestCase
