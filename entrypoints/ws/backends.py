"""Channel backends for Litestar's ChannelsPlugin that number every message per channel.

Each message published to a channel gets ``seq``: an integer, increasing per channel, consecutive
within one *epoch*. An epoch starts when the channel's counter is created (first publish, or
after the counter was lost: Redis flushed or restarted without persistence, a process
restarted on the in-memory backend); its first number is the current time in microseconds, so
a later epoch always numbers above an earlier one and a client's old ``since`` is never
mistaken for a position in the new epoch. A gap between ``since`` and the oldest kept message
means history was lost: the client gets ``reset``.

- :class:`SequencedRedisStreamBackend`: Litestar's Redis streams backend, with publishing done
  by one Lua script per channel that INCRs the channel's counter, writes the number into the
  message and XADDs it (MAXLEN = history). Counter and stream change atomically, so stream
  order is seq order even when many processes publish to one channel.
- :class:`SequencedMemoryBackend`: the embedded default; one process, same contract.

Messages are JSON objects; the backend inserts ``"seq":N`` as their first member.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

import structlog
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.redis import RedisChannelsStreamBackend
from redis.exceptions import RedisError

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = structlog.get_logger("trellis.live")


class SequencedBackend(Protocol):
    """What the websocket handler needs beyond ``ChannelsBackend``."""

    async def current_seq(self, channel: str) -> int | None:
        """The last number given on ``channel`` in the current epoch; None if there is none."""
        ...

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]: ...


def epoch_start() -> int:
    return time.time_ns() // 1000


def with_seq(data: bytes, seq: int) -> bytes:
    if not data.startswith(b"{"):
        raise ValueError("channel messages must be JSON objects")
    rest = data[1:].lstrip()
    return b'{"seq":%d' % seq + (b"}" if rest == b"}" else b"," + rest)


_PUBLISH_SCRIPT = """
-- KEYS[1] stream, KEYS[2] counter; ARGV: data, maxlen, ttl ms, channel
if redis.call('EXISTS', KEYS[2]) == 0 then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[2], string.format('%d', tonumber(now[1]) * 1000000 + tonumber(now[2]) - 1))
end
local seq = redis.call('INCR', KEYS[2])
local data = ARGV[1]
local rest = string.sub(data, 2)
local payload
if rest == '}' then
  payload = '{"seq":' .. string.format('%d', seq) .. '}'
else
  payload = '{"seq":' .. string.format('%d', seq) .. ',' .. rest
end
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'data', payload, 'channel', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return seq
"""


class SequencedRedisStreamBackend(RedisChannelsStreamBackend):
    """Redis streams, one per channel, MAXLEN ``history``; the counter lives next to the stream.

    The stream expires ``stream_ttl`` after its last message (history is bounded in time as
    well as length); the counter does not expire, so numbering goes on after a quiet spell.
    Reading starts, for a newly subscribed channel, at the stream's current end: what came
    before is history, replayed on request, never re-sent as live.
    """

    def __init__(
        self,
        history: int,
        *,
        redis: Redis,
        stream_ttl: timedelta = timedelta(hours=1),
        key_prefix: str = "trellis:live",
        block_ms: int = 250,
    ) -> None:
        super().__init__(
            history,
            redis=redis,
            stream_sleep_no_subscriptions=block_ms,
            cap_streams_approximate=False,
            stream_ttl=stream_ttl,
            key_prefix=key_prefix,
        )
        self._sequenced_publish = redis.register_script(_PUBLISH_SCRIPT)
        self._positions: dict[str, bytes | str] = {}

    def _counter_key(self, channel: str) -> str:
        return f"{self._key_prefix}:seq:{channel}"

    def _make_key(self, channel: str) -> str:
        return f"{self._key_prefix}:stream:{channel}"

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        for channel in dict.fromkeys(channels):
            await self._sequenced_publish(
                keys=[self._make_key(channel), self._counter_key(channel)],
                args=[data, self._history_limit, self._stream_ttl, channel],
            )

    async def current_seq(self, channel: str) -> int | None:
        value = await self._redis.get(self._counter_key(channel))
        return int(value) if value is not None else None

    async def subscribe(self, channels: Iterable[str]) -> None:
        chosen = list(channels)
        for channel in chosen:
            key = self._make_key(channel)
            last = cast("list[tuple[bytes, dict[bytes, bytes]]]", await self._redis.xrevrange(key, count=1))
            self._positions[key] = last[0][0] if last else "0-0"
        await super().subscribe(chosen)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        chosen = list(channels)
        await super().unsubscribe(chosen)
        for channel in chosen:
            self._positions.pop(self._make_key(channel), None)

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        """Like the base class, from each stream's position at subscription; survives outages."""
        while True:
            channels = await self._get_subscribed_channels()
            keys = [self._make_key(c) for c in channels]
            streams: dict[str, bytes | str] = {key: self._positions.get(key) or "0-0" for key in keys}
            try:
                data = await self._redis.xread(streams, block=self._stream_sleep_no_subscriptions)  # type: ignore[arg-type]
            except (RedisError, OSError) as error:
                log.warning("live_stream_read_failed", error=repr(error))
                await asyncio.sleep(1.0)
                continue
            batches = cast("list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]", data or [])
            for stream_key, entries in batches:
                key = stream_key.decode()
                for entry_id, fields in entries:
                    if key in self._positions:
                        self._positions[key] = entry_id
                    yield fields[b"channel"].decode(), fields[b"data"]


class SequencedMemoryBackend(ChannelsBackend):
    """In-process channels with per-channel numbering and bounded history.

    History is kept per channel (``history`` messages) for at most ``max_channels`` channels,
    the least recently published dropped first; a dropped channel starts a new epoch.
    Unlike Litestar's memory backend, history survives the last subscriber leaving, which is
    what lets a client that reconnects replay what it missed.
    """

    def __init__(self, history: int, max_channels: int = 10_000) -> None:
        self._limit = history
        self._max_channels = max_channels
        self._history: OrderedDict[str, deque[bytes]] = OrderedDict()
        self._seq: dict[str, int] = {}
        self._subscribed: set[str] = set()
        self._queue: asyncio.Queue[tuple[str, bytes]] | None = None

    async def on_startup(self) -> None:
        self._queue = asyncio.Queue()

    async def on_shutdown(self) -> None:
        self._queue = None

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        if self._queue is None:
            raise RuntimeError("backend not started")
        for channel in dict.fromkeys(channels):
            seq = self._seq.get(channel)
            seq = epoch_start() if seq is None else seq + 1
            self._seq[channel] = seq
            payload = with_seq(data, seq)
            kept = self._history.get(channel)
            if kept is None:
                kept = self._history[channel] = deque(maxlen=self._limit)
            kept.append(payload)
            self._history.move_to_end(channel)
            while len(self._history) > self._max_channels:
                dropped, _ = self._history.popitem(last=False)
                self._seq.pop(dropped, None)
            if channel in self._subscribed:
                self._queue.put_nowait((channel, payload))

    async def current_seq(self, channel: str) -> int | None:
        return self._seq.get(channel)

    async def subscribe(self, channels: Iterable[str]) -> None:
        self._subscribed.update(channels)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        self._subscribed.difference_update(channels)

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        if self._queue is None:
            raise RuntimeError("backend not started")
        while True:
            channel, message = await self._queue.get()
            if channel in self._subscribed:
                yield channel, message

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        kept = list(self._history.get(channel, ()))
        return kept[-limit:] if limit else kept
