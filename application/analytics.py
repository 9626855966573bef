"""Real-time analytics over domain events: validate, deduplicate, enrich, count.

Events reach the pipeline as flat string records (what a stream carries). The processor checks
each against the event schema, enriches it (time buckets, kind, latency), and applies its
counter changes *once per event id* through the ``CounterStore`` — a redelivered event (a retry,
a consumer that crashed after applying but before acknowledging) counts once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from domain.events import EVENT_NAMES, TASK_COMPLETED, DomainEvent

#: events whose schema needs a project id
_PROJECT_SCOPED = ("project.", "task.")
POST_ANALYZED = "post.analyzed"
KNOWN_EVENTS = EVENT_NAMES | {POST_ANALYZED}
COUNTER_WINDOW_MINUTES = 5


class InvalidEvent(ValueError):
    """The record does not match the event schema; retrying cannot help."""


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: str
    name: str
    at: datetime
    actor_id: str | None
    project_id: str | None
    user_id: str | None
    data: Mapping[str, Any]


def to_record(event: DomainEvent) -> dict[str, str]:
    """A domain event as the flat string fields a stream entry holds."""
    return {
        "id": event.id,
        "name": event.name,
        "at": event.at.astimezone(UTC).isoformat() if event.at.tzinfo else event.at.isoformat() + "+00:00",
        "actor_id": event.actor_id or "",
        "project_id": event.project_id or "",
        "user_id": event.user_id or "",
        "data": json.dumps(dict(event.data), default=str, separators=(",", ":")),
    }


def validate(fields: Mapping[str, str]) -> EventRecord:
    event_id = fields.get("id", "")
    name = fields.get("name", "")
    if not event_id:
        raise InvalidEvent("id is missing")
    if name not in KNOWN_EVENTS:
        raise InvalidEvent(f"unknown event name {name!r}")
    try:
        at = datetime.fromisoformat(fields.get("at", ""))
    except ValueError:
        raise InvalidEvent("at is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise InvalidEvent("at has no time zone")
    try:
        data = json.loads(fields.get("data", "{}"))
    except ValueError:
        raise InvalidEvent("data is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidEvent("data is not an object")
    project_id = fields.get("project_id") or None
    if name.startswith(_PROJECT_SCOPED) and project_id is None:
        raise InvalidEvent(f"{name} needs a project_id")
    return EventRecord(
        id=event_id,
        name=name,
        at=at,
        actor_id=fields.get("actor_id") or None,
        project_id=project_id,
        user_id=fields.get("user_id") or None,
        data=data,
    )


@dataclass(frozen=True, slots=True)
class CounterDelta:
    """What one event adds to the counters (the enrichment the counters need)."""

    event_id: str
    name: str
    minute: str  # "2026-11-23T09:30" (UTC)
    day: str  # "2026-11-23" (UTC)
    kind: str  # project | task | user | post
    task_completed: bool
    sentiment: str | None
    latency_seconds: float


def enrich(record: EventRecord, now: datetime) -> CounterDelta:
    at = record.at.astimezone(UTC)
    sentiment = record.data.get("sentiment") if record.name == POST_ANALYZED else None
    return CounterDelta(
        event_id=record.id,
        name=record.name,
        minute=at.strftime("%Y-%m-%dT%H:%M"),
        day=at.strftime("%Y-%m-%d"),
        kind=record.name.split(".", 1)[0],
        task_completed=record.name == TASK_COMPLETED,
        sentiment=sentiment if isinstance(sentiment, str) else None,
        latency_seconds=max(0.0, (now - at).total_seconds()),
    )


@dataclass(slots=True)
class Counters:
    events_per_minute: dict[str, dict[str, int]] = field(default_factory=dict)
    tasks_completed_today: int = 0
    posts_by_sentiment: dict[str, int] = field(default_factory=dict)
    active_connections: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "events_per_minute": self.events_per_minute,
            "tasks_completed_today": self.tasks_completed_today,
            "posts_by_sentiment": self.posts_by_sentiment,
            "active_connections": self.active_connections,
        }


class CounterStore(Protocol):
    async def apply_once(self, delta: CounterDelta) -> bool:
        """Apply ``delta`` unless its event was applied before; True when applied."""
        ...

    async def snapshot(self, now: datetime, minutes: int) -> Counters: ...


Outcome = Literal["processed", "duplicate"]


@dataclass(slots=True)
class Processed:
    outcome: Outcome
    delta: CounterDelta


class AnalyticsProcessor:
    def __init__(self, store: CounterStore) -> None:
        self._store = store

    async def process(self, fields: Mapping[str, str], now: datetime) -> Processed:
        """Validate (``InvalidEvent``), enrich and count once; other errors are worth a retry."""
        delta = enrich(validate(fields), now)
        applied = await self._store.apply_once(delta)
        return Processed("processed" if applied else "duplicate", delta)

    async def counters(self, now: datetime, minutes: int = COUNTER_WINDOW_MINUTES) -> Counters:
        return await self._store.snapshot(now, minutes)
