"""What every use case shares: If-Match, the derived-write retry and the event buffer."""

from __future__ import annotations

import pytest

from adapters.memory.events import InMemoryEventPublisher
from application.common import (
    DERIVED_RETRY_BASE_DELAY,
    DERIVED_RETRY_MAX_DELAY,
    DERIVED_WRITE_ATTEMPTS,
    EventBuffer,
    Ports,
    check_if_match,
    retry_on_derived_conflict,
)
from domain.errors import PreconditionFailed, VersionConflict


def test_check_if_match() -> None:
    check_if_match(3, None)
    check_if_match(3, 3)
    with pytest.raises(PreconditionFailed):
        check_if_match(3, 2)


class _Flaky:
    def __init__(self, conflicts: int, error: type[Exception] = VersionConflict) -> None:
        self.conflicts = conflicts
        self.error = error
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.conflicts:
            raise self.error()
        return "done"


class _Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


async def test_retry_reruns_after_derived_conflicts_backing_off_with_jitter() -> None:
    attempt, sleeps = _Flaky(conflicts=DERIVED_WRITE_ATTEMPTS - 1), _Sleeps()

    assert await retry_on_derived_conflict(attempt, sleep=sleeps, jitter=lambda: 1.0) == "done"
    assert attempt.calls == DERIVED_WRITE_ATTEMPTS
    # the bound doubles from the base and stops at the cap; the jitter picks a point below it
    bounds = (DERIVED_RETRY_BASE_DELAY * 2**n for n in range(DERIVED_WRITE_ATTEMPTS - 1))
    expected = [min(DERIVED_RETRY_MAX_DELAY, bound) for bound in bounds]
    assert sleeps.delays == expected
    assert expected[-1] == DERIVED_RETRY_MAX_DELAY
    assert sum(expected) < 10.0  # bounded: a request never waits long for a derived write


async def test_retry_waits_a_random_share_of_the_bound() -> None:
    attempt, sleeps = _Flaky(conflicts=2), _Sleeps()

    await retry_on_derived_conflict(attempt, sleep=sleeps, jitter=lambda: 0.25)
    assert sleeps.delays == [DERIVED_RETRY_BASE_DELAY * 0.25, DERIVED_RETRY_BASE_DELAY * 2 * 0.25]


async def test_retry_gives_up_with_the_conflict_after_the_last_attempt() -> None:
    attempt, sleeps = _Flaky(conflicts=DERIVED_WRITE_ATTEMPTS), _Sleeps()

    with pytest.raises(VersionConflict):
        await retry_on_derived_conflict(attempt, sleep=sleeps)
    assert attempt.calls == DERIVED_WRITE_ATTEMPTS
    assert len(sleeps.delays) == DERIVED_WRITE_ATTEMPTS - 1  # no wait after the last one


async def test_retry_does_not_rerun_other_errors() -> None:
    attempt = _Flaky(conflicts=1, error=PreconditionFailed)

    with pytest.raises(PreconditionFailed):
        await retry_on_derived_conflict(attempt)
    assert attempt.calls == 1


async def test_event_buffer_publishes_once_and_stamps_actor_and_time(
    ports: Ports, publisher: InMemoryEventPublisher
) -> None:
    buffer = EventBuffer(ports, actor_id="alice")
    await buffer.publish()  # nothing recorded: nothing published
    assert publisher.history == ()

    buffer.record("project.created", {"k": 1}, project_id="p", user_id="u")
    await buffer.publish()
    await buffer.publish()  # already handed on: not again

    (event,) = publisher.history
    assert (event.name, event.actor_id, event.at, event.project_id, event.user_id) == (
        "project.created",
        "alice",
        ports.clock.now(),
        "p",
        "u",
    )
    assert dict(event.data) == {"k": 1}
    assert len(event.id) == 32
