"""The live-events hub a container holds: the channels plugin, its backend and the limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.subscriber import Subscriber

from entrypoints.ws.backends import SequencedBackend

GOING_AWAY = 1001  # RFC 6455: the server is going down


@dataclass(slots=True)
class LiveLimits:
    auth_timeout_seconds: float = 5.0
    #: an application-level ``{"type": "ping"}``; uvicorn also sends websocket ping frames
    ping_seconds: float = 20.0
    #: messages waiting to be written to one connection; more and the client is too slow
    send_queue: int = 256
    #: messages received from the backend but not yet handled, per channel subscription
    subscriber_backlog: int = 1024
    max_channels: int = 50
    max_message_bytes: int = 4096
    #: messages kept per channel for ``since``
    history: int = 500
    close_timeout_seconds: float = 1.0


class WatchedSubscriber(Subscriber):
    """A Litestar subscriber that reports when its bounded backlog overflows (instead of dropping
    messages silently, which would break the per-channel ordering promise)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_overflow: Callable[[], None] | None = None

    def put_nowait(self, item: bytes | None) -> bool:
        accepted = super().put_nowait(item)
        if not accepted and self.on_overflow is not None:
            self.on_overflow()
        return accepted


@dataclass(slots=True)
class LiveHub:
    plugin: ChannelsPlugin
    backend: SequencedBackend
    limits: LiveLimits = field(default_factory=LiveLimits)
    connections: int = 0
    #: the open, authenticated connections (``entrypoints.ws.handler.Connection``), for a going-away close
    open: set[Any] = field(default_factory=set)
    #: the analytics consumer of this process (``entrypoints.ws.analytics.AnalyticsConsumer``)
    analytics: Any = None

    @classmethod
    def create(cls, backend: ChannelsBackend, limits: LiveLimits | None = None) -> LiveHub:
        chosen = limits or LiveLimits()
        if not hasattr(backend, "current_seq"):
            raise TypeError("the live backend must number its messages (current_seq)")
        plugin = ChannelsPlugin(
            backend,
            arbitrary_channels_allowed=True,
            subscriber_max_backlog=chosen.subscriber_backlog,
            subscriber_backlog_strategy="backoff",
            subscriber_class=WatchedSubscriber,
        )
        return cls(plugin=plugin, backend=backend, limits=chosen)

    async def start(self) -> None:
        await self.plugin.__aenter__()

    async def going_away(self) -> int:
        """Close every open connection with 1001 (going away) and wait until each has sent its
        close frame: for a server shutdown, before the server drops what is left (the caller
        bounds the wait). Answers how many connections were told."""
        told = list(self.open)
        for connection in told:
            connection.fail(GOING_AWAY, "server shutting down")
        await asyncio.gather(*(connection.finished.wait() for connection in told))
        return len(told)

    async def stop(self) -> None:
        await self.plugin.__aexit__(None, None, None)

    async def publish(self, data: bytes, channels: Any) -> None:
        await self.plugin.wait_published(data, channels)
