"""Domain events -> channels: every event a use case publishes reaches the channels it concerns.

``project:<id>`` for everything that belongs to a project (the project's and its tasks' events),
``user:<id>`` for everything that concerns a user (their sign-up and account changes, the
projects they own). The forwarder is subscribed to the event publisher in bootstrap and awaited
by ``publish``, i.e. after the use case committed and before the response leaves: once a client
has its 2xx, the event is in the channel's history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from redis.exceptions import RedisError

from domain.events import DomainEvent

Publish = Callable[[bytes, Iterable[str]], Awaitable[None]]

PUBLISH_TIMEOUT_SECONDS = 2.0

log = structlog.get_logger("trellis.live")

_encoder = msgspec.json.Encoder()


def rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def channels_for(event: DomainEvent) -> list[str]:
    channels: list[str] = []
    if event.project_id:
        channels.append(f"project:{event.project_id}")
    if event.user_id:
        channels.append(f"user:{event.user_id}")
    return channels


def encode_message(event: DomainEvent, channel: str) -> bytes:
    """The message as clients see it, without ``seq`` (the backend numbers it per channel)."""
    message: dict[str, Any] = {
        "type": "event",
        "channel": channel,
        "event": event.name,
        "id": event.id,
        "data": dict(event.data),
        "at": rfc3339(event.at),
    }
    return _encoder.encode(message)


class EventForwarder:
    """An ``InMemoryEventPublisher`` subscriber that publishes each event to its channels."""

    def __init__(self, publish: Publish, timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
        self._publish = publish
        self._timeout = timeout

    async def __call__(self, event: DomainEvent) -> None:
        for channel in channels_for(event):
            # one message per channel: each carries its own channel name and its own seq
            try:
                await asyncio.wait_for(self._publish(encode_message(event, channel), [channel]), self._timeout)
            except (RedisError, OSError, TimeoutError) as error:
                # the channel backend (Redis) is down: live subscribers miss this event; the write
                # itself stands. A warning, not the publisher's ERROR with a stack trace per write.
                log.warning("live_event_lost", event_name=event.name, event_id=event.id, channel=channel,
                            error=repr(error))  # fmt: skip
