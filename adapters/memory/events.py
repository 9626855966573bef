"""In-process event publishing: a bounded history and async subscriber callbacks."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from domain.events import DomainEvent

logger = logging.getLogger(__name__)

Subscriber = Callable[[DomainEvent], Awaitable[None]]

DEFAULT_HISTORY = 1000


class InMemoryEventPublisher:
    """Implements ``domain.ports.EventPublisher`` within one process.

    ``publish`` records each event in a bounded history, then awaits every subscriber once per
    event, in subscription order. A subscriber that raises is logged and skipped: publishing
    never fails because a listener did.
    """

    def __init__(self, history: int = DEFAULT_HISTORY) -> None:
        if history < 1:
            raise ValueError("history must keep at least one event")
        self._history: deque[DomainEvent] = deque(maxlen=history)
        self._subscribers: list[Subscriber] = []

    @property
    def history(self) -> tuple[DomainEvent, ...]:
        """The most recent events, oldest first."""
        return tuple(self._history)

    def clear(self) -> None:
        self._history.clear()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Register ``callback``; returns a function that unsubscribes it."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            self.unsubscribe(callback)

        return unsubscribe

    def unsubscribe(self, callback: Subscriber) -> None:
        if callback in self._subscribers:
            self._subscribers.remove(callback)

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        for event in events:
            self._history.append(event)
            for callback in tuple(self._subscribers):  # a callback may (un)subscribe
                try:
                    await callback(event)
                except Exception:
                    logger.exception("event subscriber %r failed on %s (%s)", callback, event.name, event.id)
