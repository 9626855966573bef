"""Live events across processes: two ``./dev run`` servers sharing one MongoDB and one Redis.

A change made through process A reaches a websocket connected to process B (fan-out through
the Redis streams backend), and a client that disconnects, misses events and reconnects with
``since`` — to the other process, even — receives exactly the missed ones, in order, once.
Both processes share the signing key, so a token from either is good on both.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from websockets.asyncio.client import ClientConnection, connect

from tests.support.mongo import mongo_url
from tests.support.redis import redis_url
from tests.support.services import RunningServer, free_port, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.real_service]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery 42"
WAIT = 10.0


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _shared_env() -> dict[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {
        "APP_ENV": "development",
        "MONGODB_URL": mongo_url(),
        "MONGODB_DATABASE": f"trellis_ws_e2e_{uuid.uuid4().hex[:12]}",
        "REDIS_URL": redis_url(),
        "JWT_PRIVATE_KEY": pem.decode(),
        "REFRESH_TOKEN_KEY": base64.b64encode(os.urandom(32)).decode(),
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "1024",
    }


def _start(env: dict[str, str]) -> tuple[RunningServer, str]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = start_server(
        "trellis",
        [str(ROOT / "dev"), "run"],
        port,
        env={**env, "PORT": str(port)},
        cwd=ROOT,
        ready=lambda: _healthy(base_url),
        timeout=120,
    )
    return server, base_url


@dataclass(frozen=True, slots=True)
class Pair:
    a: str
    b: str


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    env = _shared_env()
    with ThreadPoolExecutor(2) as pool:  # both start at once: half the wait
        starting = [pool.submit(_start, env) for _ in range(2)]
        wait(starting)
    started = [f.result() for f in starting if f.exception() is None]
    try:
        for future in starting:
            future.result()  # re-raise a start failure, after the other one is in ``started``
        yield Pair(a=started[0][1], b=started[1][1])
    finally:
        for server, _ in started:
            server.stop()


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def _user(base_url: str) -> User:
    email = f"ws-{uuid.uuid4().hex[:10]}@e2e.example"
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        signup = await client.post(
            "/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "display_name": "WS"}
        )
        assert signup.status_code == 201, signup.text
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        return User(user_id=signup.json()["data"]["id"], token=login.json()["data"]["access_token"])


def _ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/api/v1/ws"


@asynccontextmanager
async def _socket(base_url: str, who: User) -> AsyncIterator[ClientConnection]:
    async with connect(_ws_url(base_url), open_timeout=5, close_timeout=2) as ws:
        await ws.send(json.dumps({"type": "auth", "token": who.token}))
        assert (await _next(ws))["type"] == "authenticated"
        yield ws


async def _next(ws: ClientConnection, wait: float = WAIT) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), wait))
        if message.get("type") != "ping":
            return message


async def _subscribe(ws: ClientConnection, channel: str, since: int | None = None) -> None:
    body: dict[str, Any] = {"type": "subscribe", "channels": [channel]}
    if since is not None:
        body["since"] = since
    await ws.send(json.dumps(body))
    assert (await _next(ws))["type"] == "subscribed"


async def _nothing_more(ws: ClientConnection, wait: float = 0.5) -> None:
    try:
        message = await _next(ws, wait)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected message {message}")


async def test_a_change_through_process_a_reaches_a_socket_on_process_b(pair: Pair) -> None:
    owner = await _user(pair.a)
    viewer = await _user(pair.b)
    async with httpx.AsyncClient(base_url=pair.a, timeout=10) as a:
        project = (
            await a.post("/api/v1/projects", json={"title": "Fan-out", "visibility": "public"}, headers=owner.headers)
        ).json()["data"]
        task = (
            await a.post(f"/api/v1/projects/{project['id']}/tasks", json={"title": "Dig"}, headers=owner.headers)
        ).json()["data"]
        channel = f"project:{project['id']}"
        async with _socket(pair.b, viewer) as ws:
            await _subscribe(ws, channel)
            changed = await a.patch(f"/api/v1/tasks/{task['id']}", json={"progress": 30}, headers=owner.headers)
            assert changed.status_code == 200, changed.text
            event = await _next(ws)
            assert (event["channel"], event["event"], event["data"]["task_id"]) == (channel, "task.updated", task["id"])
            assert event["data"]["progress"] == 30
            # made personal on A: B re-checks visibility on the shared store and stops delivering
            hidden = await a.patch(
                f"/api/v1/projects/{project['id']}", json={"visibility": "personal"}, headers=owner.headers
            )
            assert hidden.status_code == 200, hidden.text
            before_refusal = []
            while (message := await _next(ws))["type"] == "event":
                before_refusal.append(message["event"])  # what was published before the change
            assert message == {"type": "error", "code": "forbidden_channel", "channel": channel}
            assert "project.updated" not in before_refusal
            await a.patch(f"/api/v1/tasks/{task['id']}", json={"progress": 60}, headers=owner.headers)
            await _nothing_more(ws)


async def test_reconnect_with_since_gets_exactly_the_missed_events(pair: Pair) -> None:
    owner = await _user(pair.a)
    async with httpx.AsyncClient(base_url=pair.a, timeout=10) as a:
        project = (await a.post("/api/v1/projects", json={"title": "V0"}, headers=owner.headers)).json()["data"]
        channel = f"project:{project['id']}"

        async def rename(title: str) -> None:
            response = await a.patch(f"/api/v1/projects/{project['id']}", json={"title": title}, headers=owner.headers)
            assert response.status_code == 200, response.text

        async with _socket(pair.b, owner) as ws:
            await _subscribe(ws, channel)
            await rename("V1")
            last = await _next(ws)
            assert last["data"]["title"] == "V1"
        missed = [f"V{n}" for n in range(2, 9)]
        for title in missed:
            await rename(title)
        async with _socket(pair.a, owner) as ws:  # the other process: history lives in Redis
            await _subscribe(ws, channel, since=last["seq"])
            replayed = [await _next(ws) for _ in missed]
            assert [m["data"]["title"] for m in replayed] == missed
            assert [m["seq"] for m in replayed] == list(range(last["seq"] + 1, last["seq"] + 1 + len(missed)))
            await _nothing_more(ws)
            await rename("V9")
            live = await _next(ws)
            assert (live["data"]["title"], live["seq"]) == ("V9", last["seq"] + len(missed) + 1)
