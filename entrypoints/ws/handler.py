"""``/api/v1/ws``: the live-events websocket (DESIGN §8).

Protocol, client -> server (JSON text messages):
- ``{"type": "auth", "token": "<access token>"}`` first, within 5 s, else close 4401;
- ``{"type": "subscribe", "channels": [...], "since": <seq> | {"<channel>": <seq>}}``;
- ``{"type": "unsubscribe", "channels": [...]}``; ``{"type": "ping"}`` (answered ``pong``).

Server -> client: ``authenticated``, ``subscribed``, ``unsubscribed``, ``event`` (with per-channel
``seq``), ``reset`` (history no longer reaches ``since``: refetch), ``error``, ``ping``/``pong``.

Each connection has a bounded send queue; a client that does not keep up is closed with 4408
rather than buffered without limit. Close codes: 4401 unauthenticated, 4408 too slow,
1009 message too big, 1011 internal error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from application.live import PROJECT_PREFIX, LiveAccess
from domain.errors import DomainError
from domain.events import PROJECT_DELETED, PROJECT_UPDATED
from domain.identity import Principal
from entrypoints.observability.metrics import WEBSOCKET_CONNECTIONS
from entrypoints.ws.hub import LiveHub, WatchedSubscriber

if TYPE_CHECKING:
    from entrypoints.bootstrap import Container

log = structlog.get_logger("trellis.live")

CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_SLOW = 4408
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011


class Socket(Protocol):
    """The part of Litestar's ``WebSocket`` a connection uses (tests pass a fake)."""

    async def receive_text(self) -> str: ...
    async def send_text(self, data: str) -> None: ...
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


BAD_CHANNELS = _dump({"type": "error", "code": "bad_message", "message": "channels must be a list of strings."})


@dataclass(slots=True)
class ChannelState:
    subscriber: WatchedSubscriber
    last_seq: int
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    revoked: bool = False


class Connection:
    """One authenticated websocket: its subscriptions, its send queue, its tasks."""

    def __init__(self, socket: Socket, hub: LiveHub, principal: Principal, access: LiveAccess) -> None:
        self.socket = socket
        self.hub = hub
        self.limits = hub.limits
        self.principal = principal
        self.access = access
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=self.limits.send_queue)
        self.channels: dict[str, ChannelState] = {}
        self.done = asyncio.Event()
        self.finished = asyncio.Event()  # closed and cleaned up
        self.close_code: tuple[int, str] | None = None
        self._background: set[asyncio.Task[None]] = set()

    # --- sending ----------------------------------------------------------------------------

    def offer(self, text: str) -> None:
        """Queue ``text`` for the client; a full queue means the client is too slow: close it."""
        if self.done.is_set():
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.fail(CLOSE_TOO_SLOW, "slow consumer")

    def fail(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code = (code, reason)
            log.info("live_connection_closed", user_id=self.principal.user_id, code=code, reason=reason)
        self.done.set()

    async def _sender(self) -> None:
        while True:
            text = await self.queue.get()
            await self.socket.send_text(text)

    async def _pinger(self) -> None:
        while True:
            await asyncio.sleep(self.limits.ping_seconds)
            self.offer('{"type":"ping"}')

    # --- receiving ----------------------------------------------------------------------------

    async def _receiver(self) -> None:
        while True:
            try:
                raw = await self.socket.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                self.done.set()
                return
            if len(raw.encode()) > self.limits.max_message_bytes:
                self.fail(CLOSE_TOO_BIG, "message too big")
                return
            await self.handle(raw)

    async def handle(self, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self.offer(_dump({"type": "error", "code": "bad_message", "message": "Send a JSON object."}))
            return
        kind = message.get("type")
        if kind == "ping":
            self.offer('{"type":"pong"}')
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self.subscribe(message.get("channels"), message.get("since"))
        elif kind == "unsubscribe":
            await self.unsubscribe(message.get("channels"))
        else:
            self.offer(_dump({"type": "error", "code": "bad_message", "message": f"Unknown message type {kind!r}."}))

    # --- subscriptions ----------------------------------------------------------------------------

    async def subscribe(self, channels: object, since: object) -> None:
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            self.offer(BAD_CHANNELS)
            return
        if since is not None and not _valid_since(since):
            self.offer(_dump({"type": "error", "code": "bad_message", "message": "since must be an integer."}))
            return
        accepted: list[tuple[str, str]] = []
        for requested in dict.fromkeys(channels):
            name = await self.access.resolve(self.principal, requested)
            if name is None:
                self.offer(_dump({"type": "error", "code": "forbidden_channel", "channel": requested}))
                continue
            if name not in self.channels and len(self.channels) + len(accepted) >= self.limits.max_channels:
                self.offer(_dump({"type": "error", "code": "too_many_channels", "channel": requested}))
                continue
            accepted.append((requested, name))
        if not accepted:
            return
        self.offer(_dump({"type": "subscribed", "channels": [name for _, name in accepted]}))
        for requested, name in accepted:
            channel_since = since.get(requested, since.get(name)) if isinstance(since, dict) else since
            await self._start(name, channel_since if isinstance(channel_since, int) else None)

    async def _start(self, channel: str, since: int | None) -> None:
        """Subscribe live first, then replay history after ``since``; dedupe by seq in between."""
        if channel in self.channels:
            if since is None:
                return
            await self._stop(channel)
        backend = self.hub.backend
        current = await backend.current_seq(channel)
        subscriber = await self.hub.plugin.subscribe(channel)
        assert isinstance(subscriber, WatchedSubscriber)
        subscriber.on_overflow = partial(self.fail, CLOSE_TOO_SLOW, "slow consumer")
        start = since if since is not None else (current or 0)
        state = ChannelState(subscriber=subscriber, last_seq=start)
        self.channels[channel] = state
        history = await backend.get_history(channel)
        if since is not None and current is not None and since < current:
            replay = [entry for entry in history if _seq_of(entry) > since]
            if not replay or _seq_of(replay[0]) != since + 1:
                self.offer(_dump({"type": "reset", "channel": channel}))
                state.last_seq = current
            else:
                for entry in replay:
                    await self.deliver(channel, entry)
        elif since is not None and (current is None or since > current):
            # a position we never gave (another epoch, or lost counters): the client must refetch
            self.offer(_dump({"type": "reset", "channel": channel}))
            state.last_seq = current or 0
        else:
            # published between reading the counter and subscribing: already in history
            for entry in history:
                if _seq_of(entry) > start:
                    await self.deliver(channel, entry)
        await state.stack.enter_async_context(subscriber.run_in_background(partial(self._guarded, channel), join=False))

    async def unsubscribe(self, channels: object) -> None:
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            self.offer(BAD_CHANNELS)
            return
        names = [_canonical(c, self.principal) for c in channels]
        for name in names:
            await self._stop(name)
        self.offer(_dump({"type": "unsubscribed", "channels": names}))

    async def _stop(self, channel: str) -> None:
        state = self.channels.pop(channel, None)
        if state is None:
            return
        state.revoked = True
        await state.stack.aclose()
        await self.hub.plugin.unsubscribe(state.subscriber, channel)

    async def _guarded(self, channel: str, payload: bytes) -> None:
        """``deliver`` for the subscriber's task: a failure closes the connection (1011) rather than
        silently ending that channel's delivery while the socket stays open."""
        try:
            await self.deliver(channel, payload)
        except Exception as error:
            log.error("live_delivery_failed", channel=channel, error=repr(error))
            self.fail(CLOSE_INTERNAL, "internal error")

    async def deliver(self, channel: str, payload: bytes) -> None:
        """One message from the backend for ``channel``: in order, once, to a caller who may see it."""
        state = self.channels.get(channel)
        if state is None or state.revoked:
            return
        seq = _seq_of(payload)
        if seq <= state.last_seq:
            return  # replayed already, or older than where this subscription started
        if channel.startswith(PROJECT_PREFIX):
            event = _event_of(payload)
            if event in (PROJECT_UPDATED, PROJECT_DELETED):
                project_id = channel.removeprefix(PROJECT_PREFIX)
                visible = await self.access.can_see_project(self.principal, project_id)
                if not visible:
                    state.revoked = True
                    if event == PROJECT_DELETED:  # they could see it until it went: tell them it did
                        state.last_seq = seq
                        self.offer(payload.decode())
                    self.offer(_dump({"type": "error", "code": "forbidden_channel", "channel": channel}))
                    self._in_background(self._stop(channel))
                    return
        state.last_seq = seq
        self.offer(payload.decode())

    def _in_background(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- lifetime ----------------------------------------------------------------------------

    async def run(self) -> None:
        self.hub.connections += 1
        self.hub.open.add(self)
        WEBSOCKET_CONNECTIONS.inc()
        tasks = [
            asyncio.ensure_future(self._receiver()),
            asyncio.ensure_future(self._sender()),
            asyncio.ensure_future(self._pinger()),
        ]
        for task in tasks:
            task.add_done_callback(self._task_ended)
        try:
            await self.done.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            for channel in list(self.channels):
                with contextlib.suppress(Exception):
                    await self._stop(channel)
            for pending in list(self._background):
                pending.cancel()
            self.hub.connections -= 1
            WEBSOCKET_CONNECTIONS.dec()
            if self.close_code is not None:
                code, reason = self.close_code
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.socket.close(code, reason), self.limits.close_timeout_seconds)
            self.hub.open.discard(self)
            self.finished.set()

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            return
        if isinstance(error, WebSocketDisconnect | OSError):
            self.done.set()
            return
        log.error("live_connection_failed", error=repr(error))
        self.fail(CLOSE_INTERNAL, "internal error")


def _valid_since(since: object) -> bool:
    if isinstance(since, bool):
        return False
    if isinstance(since, int):
        return since >= 0
    if isinstance(since, dict):
        return all(isinstance(k, str) and _valid_since(v) and isinstance(v, int) for k, v in since.items())
    return False


def _canonical(channel: str, principal: Principal) -> str:
    return f"user:{principal.user_id}" if channel == "user:me" else channel


def _seq_of(payload: bytes) -> int:
    seq = json.loads(payload).get("seq")
    return int(seq) if isinstance(seq, int) else -1


def _event_of(payload: bytes) -> str | None:
    event = json.loads(payload).get("event")
    return event if isinstance(event, str) else None


async def authenticate(socket: Socket, container: Container) -> Principal | None:
    """The first message must authenticate, in time; else 4401 and None."""
    limits = container.live.limits if container.live is not None else None
    timeout = limits.auth_timeout_seconds if limits is not None else 5.0
    try:
        async with asyncio.timeout(timeout):  # unlike 3.11's wait_for, never swallows a cancel
            raw = await socket.receive_text()
    except TimeoutError:
        await socket.close(CLOSE_UNAUTHENTICATED, "authentication timed out")
        return None
    except (WebSocketDisconnect, RuntimeError):
        return None
    try:
        message = json.loads(raw) if len(raw) <= 16_384 else None
    except ValueError:
        message = None
    token = message.get("token") if isinstance(message, dict) and message.get("type") == "auth" else None
    if not isinstance(token, str) or not token:
        await socket.close(CLOSE_UNAUTHENTICATED, "first message must be {type: auth, token}")
        return None
    try:
        return await container.accounts.authenticate(token)
    except DomainError:
        await socket.close(CLOSE_UNAUTHENTICATED, "invalid or expired token")
        return None


@websocket("/ws", name="live_events")
async def live_events(socket: WebSocket[Any, Any, Any]) -> None:
    """Live events: authenticate, subscribe to channels, receive events in order."""
    await socket.accept()
    container: Container = socket.app.state.container
    hub = container.live
    principal = await authenticate(socket, container)
    if principal is None:
        return
    if hub is None:
        await socket.close(CLOSE_INTERNAL, "live events are not configured")
        return
    connection = Connection(socket, hub, principal, LiveAccess(container.projects))
    connection.offer(_dump({"type": "authenticated", "user_id": principal.user_id}))
    await connection.run()
