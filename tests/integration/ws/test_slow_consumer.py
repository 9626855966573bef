"""A client that does not read is disconnected (4408); its queue never grows past the bound."""

from __future__ import annotations

import asyncio

from application.live import LiveAccess
from domain.identity import Principal
from entrypoints.ws.backends import SequencedMemoryBackend
from entrypoints.ws.handler import CLOSE_TOO_SLOW, Connection
from entrypoints.ws.hub import LiveHub, LiveLimits


class StuckSocket:
    """A peer that never reads: the first send blocks for ever, as on a full TCP window."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str | None] | None = None
        self._never = asyncio.Event()

    async def receive_text(self) -> str:
        await self._never.wait()
        return ""

    async def send_text(self, data: str) -> None:
        self.sent.append(data)
        await self._never.wait()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)


class OwnChannelOnly(LiveAccess):
    def __init__(self) -> None:
        pass

    async def resolve(self, principal: Principal, channel: str) -> str | None:
        return f"user:{principal.user_id}" if channel == "user:me" else None


async def test_slow_consumer_is_closed_with_4408_and_the_queue_stays_bounded() -> None:
    hub = LiveHub.create(SequencedMemoryBackend(100), LiveLimits(send_queue=4, ping_seconds=60))
    await hub.start()
    try:
        socket = StuckSocket()
        connection = Connection(socket, hub, Principal("u1"), OwnChannelOnly())
        running = asyncio.create_task(connection.run())
        await connection.subscribe(["user:me"], None)
        for n in range(50):
            await hub.publish(b'{"type":"event","n":%d}' % n, ["user:u1"])
            assert connection.queue.qsize() <= 4
        await asyncio.wait_for(running, 5)
        assert socket.closed is not None
        assert socket.closed[0] == CLOSE_TOO_SLOW
        assert connection.queue.qsize() <= 4
        assert hub.connections == 0
        assert not connection.channels  # its subscriptions are gone with it
    finally:
        await hub.stop()
