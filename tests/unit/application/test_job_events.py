"""``JobEvents``: job changes as ``job.*`` events for the owner, progress throttled."""

from __future__ import annotations

from dataclasses import replace

from adapters.memory.clock import FixedClock
from adapters.memory.events import InMemoryEventPublisher
from application.common import Ports
from application.jobs import JobEvents
from domain import events as ev
from domain.jobs import Job, JobState


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _job(clock: FixedClock, **changes: object) -> Job:
    job = Job(id="j1", kind="tasks.import", owner_id="u1", created_at=clock.now(), updated_at=clock.now())
    return replace(job, **changes)  # type: ignore[arg-type]


async def test_progress_is_throttled_and_state_changes_always_announced(
    ports: Ports, publisher: InMemoryEventPublisher, clock: FixedClock
) -> None:
    ticks = Ticks()
    observe = JobEvents(ports, interval=0.25, monotonic=ticks)
    await observe(_job(clock, state=JobState.RUNNING, attempts=1))
    await observe(_job(clock, state=JobState.RUNNING, progress=1))  # within 250 ms: held back
    ticks.now += 0.3
    await observe(_job(clock, state=JobState.RUNNING, progress=0))  # same percent: held back
    await observe(_job(clock, state=JobState.RUNNING, progress=2))
    ticks.now += 0.01
    await observe(_job(clock, state=JobState.QUEUED, progress=2, errors=["attempt 1: boom"]))  # a state change
    await observe(_job(clock, state=JobState.SUCCEEDED, progress=100))
    events = publisher.history
    assert [(e.name, e.data["state"], e.data["progress"]) for e in events] == [
        (ev.JOB_PROGRESS, "running", 0),
        (ev.JOB_PROGRESS, "running", 2),
        (ev.JOB_PROGRESS, "queued", 2),
        (ev.JOB_SUCCEEDED, "succeeded", 100),
    ]
    assert all(e.user_id == "u1" and e.project_id is None for e in events)
    assert events[2].data["error"] == "attempt 1: boom"
    assert "error" not in events[3].data


async def test_a_job_without_owner_is_not_announced(
    ports: Ports, publisher: InMemoryEventPublisher, clock: FixedClock
) -> None:
    await JobEvents(ports)(_job(clock, owner_id=None, state=JobState.FAILED))
    assert publisher.history == ()


async def test_a_failing_publisher_never_fails_the_job(clock: FixedClock, ports: Ports) -> None:
    class Broken:
        async def publish(self, events: object) -> None:
            raise RuntimeError("down")

    await JobEvents(Ports(uow=ports.uow, clock=clock, ids=ports.ids, publisher=Broken()))(
        _job(clock, state=JobState.FAILED)
    )
