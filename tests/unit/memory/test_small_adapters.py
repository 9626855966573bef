"""Clock, id generator and in-process event publisher."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest

from adapters.memory.clock import FixedClock, SystemClock
from adapters.memory.events import InMemoryEventPublisher
from adapters.memory.ids import UuidGenerator
from domain.events import PROJECT_CREATED, TASK_UPDATED, DomainEvent

AT = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def test_system_clock_is_aware_utc_and_current() -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    now = SystemClock().now()

    assert now.utcoffset() == timedelta(0)
    assert before <= now <= datetime.now(UTC)
    assert now.microsecond % 1000 == 0  # milliseconds, as BSON stores them


def test_fixed_clock_stands_still_until_set_or_advanced() -> None:
    clock = FixedClock(AT)
    assert clock.now() == clock.now() == AT

    assert clock.advance() == AT + timedelta(seconds=1)
    assert clock.advance(timedelta(minutes=2)) == AT + timedelta(minutes=2, seconds=1)
    assert clock.advance(0.5) == AT + timedelta(minutes=2, seconds=1.5)
    clock.set(AT - timedelta(days=1))
    assert clock.now() == AT - timedelta(days=1)


def test_fixed_clock_normalises_to_utc_and_refuses_naive_times() -> None:
    clock = FixedClock(datetime(2025, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))))

    assert clock.now() == AT
    assert clock.now().tzinfo is UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2025, 5, 1, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2025, 5, 1, 12, 0))


def test_uuid_ids_are_unique_url_safe_hex() -> None:
    ids = [UuidGenerator().new_id() for _ in range(1000)]

    assert len(set(ids)) == len(ids)
    assert all(len(new_id) == 32 and set(new_id) <= set("0123456789abcdef") for new_id in ids)


def event(number: int, name: str = TASK_UPDATED) -> DomainEvent:
    return DomainEvent(id=f"event-{number}", name=name, actor_id="user-1", at=AT, project_id="p1")


async def test_publish_keeps_a_bounded_history_oldest_first() -> None:
    publisher = InMemoryEventPublisher(history=3)

    await publisher.publish([event(1), event(2)])
    await publisher.publish([event(3), event(4)])

    assert [e.id for e in publisher.history] == ["event-2", "event-3", "event-4"]
    publisher.clear()
    assert publisher.history == ()
    with pytest.raises(ValueError, match="at least one"):
        InMemoryEventPublisher(history=0)


async def test_subscribers_get_every_event_in_order_until_they_unsubscribe() -> None:
    publisher = InMemoryEventPublisher()
    seen: list[tuple[str, str]] = []

    async def first(e: DomainEvent) -> None:
        seen.append(("first", e.id))

    async def second(e: DomainEvent) -> None:
        seen.append(("second", e.id))

    stop_first = publisher.subscribe(first)
    publisher.subscribe(second)
    await publisher.publish([event(1), event(2, PROJECT_CREATED)])
    stop_first()
    stop_first()  # unsubscribing twice is harmless
    await publisher.publish([event(3)])

    assert seen == [
        ("first", "event-1"),
        ("second", "event-1"),
        ("first", "event-2"),
        ("second", "event-2"),
        ("second", "event-3"),
    ]


async def test_a_failing_subscriber_is_logged_and_never_stops_publishing(caplog: pytest.LogCaptureFixture) -> None:
    publisher = InMemoryEventPublisher()
    delivered: list[str] = []

    async def broken(e: DomainEvent) -> None:
        raise RuntimeError("listener bug")

    async def healthy(e: DomainEvent) -> None:
        delivered.append(e.id)

    publisher.subscribe(broken)
    publisher.subscribe(healthy)
    with caplog.at_level(logging.ERROR, logger="adapters.memory.events"):
        await publisher.publish([event(1), event(2)])

    assert delivered == ["event-1", "event-2"]
    assert [e.id for e in publisher.history] == ["event-1", "event-2"]
    failures = [record for record in caplog.records if record.name == "adapters.memory.events"]
    assert len(failures) == 2
    assert all(record.exc_info is not None for record in failures)
    assert "event-1" in failures[0].getMessage()
