"""What every use case shares: If-Match, the derived-write retry and the event buffer."""

from __future__ import annotations

import pytest

from adapters.memory.events import InMemoryEventPublisher
from application.common import DERIVED_WRITE_ATTEMPTS, EventBuffer, Ports, check_if_match, retry_on_derived_conflict
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


async def test_retry_reruns_after_derived_conflicts() -> None:
    attempt = _Flaky(conflicts=DERIVED_WRITE_ATTEMPTS - 1)

    assert await retry_on_derived_conflict(attempt) == "done"
    assert attempt.calls == DERIVED_WRITE_ATTEMPTS


async def test_retry_gives_up_with_the_conflict_after_the_last_attempt() -> None:
    attempt = _Flaky(conflicts=DERIVED_WRITE_ATTEMPTS)

    with pytest.raises(VersionConflict):
        await retry_on_derived_conflict(attempt)
    assert attempt.calls == DERIVED_WRITE_ATTEMPTS


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
