"""Fixtures for the websocket suite: the app served by a real uvicorn on a loopback port.

Litestar's test client runs websocket sessions in a portal thread with its own event loop,
while the container (and its channels plugin) lives in the test's loop; a real server in the
test's loop, driven by the ``websockets`` client, exercises the same code without that split.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from entrypoints.bootstrap import Container, bootstrap
from entrypoints.http.app import create_app
from tests.integration.http.helpers import Api, Member, make_settings
from tests.support.services import LOOPBACK, free_port

RECEIVE_TIMEOUT = 5.0


@dataclass(slots=True)
class LiveServer:
    api: Api
    container: Container
    ws_url: str

    @asynccontextmanager
    async def socket(self, who: Member | None = None) -> AsyncIterator[ClientConnection]:
        """A websocket; authenticated as ``who`` (the ``authenticated`` reply consumed) if given."""
        async with connect(self.ws_url, open_timeout=5, close_timeout=2) as ws:
            if who is not None:
                await ws.send(json.dumps({"type": "auth", "token": who.access_token}))
                reply = await receive(ws)
                assert reply == {"type": "authenticated", "user_id": who.user_id}, reply
            yield ws


async def receive(ws: ClientConnection, wait: float = RECEIVE_TIMEOUT) -> dict[str, Any]:
    """The next message that is not a keep-alive ping."""
    while True:
        raw = await asyncio.wait_for(ws.recv(), wait)
        message = cast(dict[str, Any], json.loads(raw))
        if message.get("type") != "ping":
            return message


async def receive_until(
    ws: ClientConnection, done: Callable[[dict[str, Any]], bool], wait: float = RECEIVE_TIMEOUT
) -> list[dict[str, Any]]:
    """Messages up to and including the first for which ``done`` is true."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(wait):
        while True:
            message = await receive(ws, wait)
            seen.append(message)
            if done(message):
                return seen


async def nothing_more(ws: ClientConnection, wait: float = 0.3) -> None:
    try:
        message = await receive(ws, wait)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected message {message}")


async def subscribe(ws: ClientConnection, *channels: str, since: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "subscribe", "channels": list(channels)}
    if since is not None:
        body["since"] = since
    await ws.send(json.dumps(body))
    return await receive(ws)


@asynccontextmanager
async def live_server(**settings: str) -> AsyncIterator[LiveServer]:
    container = await bootstrap(make_settings(**settings))
    app = create_app(container=container)
    port = free_port()
    config = uvicorn.Config(app, host=LOOPBACK, port=port, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://{LOOPBACK}:{port}", timeout=10) as http:
            api = Api(client=http, container=container)  # type: ignore[arg-type]
            yield LiveServer(api=api, container=container, ws_url=f"ws://{LOOPBACK}:{port}/api/v1/ws")
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 10)
        finally:
            await container.close()


@pytest.fixture
async def live() -> AsyncIterator[LiveServer]:
    async with live_server() as value:
        yield value
