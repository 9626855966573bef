"""A Redis for tests: ``REDIS_URL`` when set, else a real ``redis-server`` on a free port.

- ``redis_url()`` returns the URL, starting ``redis-server`` (no persistence, loopback only)
  once per test process on first use, stopped at exit. Without the binary (Debian/Ubuntu
  package ``redis-server``) it calls ``unavailable()``: a skip, or a failure under
  ``REQUIRE_REAL_SERVICES=1``.
- ``redis_server_url`` is the same as a session-scoped fixture.
- ``redis_client()`` is an async context manager: a client made by the adapters' own
  ``create_client``, checked with PING, the database flushed first when the server is ours,
  closed afterwards. ``unique_namespace()`` gives each test its own key prefix as well, which
  is what keeps tests apart on a shared ``REDIS_URL`` server (never flushed).
- ``start_redis_server(port)`` starts a server; ``restart_redis_server(server)`` kills it and
  starts a new one on the same port. ``private_redis_server()`` wraps both for outage tests:
  a server of the test's own that it may kill, restart, pause (SIGSTOP: a hung Redis) and
  resume, stopped afterwards whatever state it is in.
"""

from __future__ import annotations

import atexit
import os
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.redis.client import create_client
from tests.support.services import LOOPBACK, RunningServer, find_executable, free_port, start_server, unavailable

_shared: dict[str, str | RunningServer] = {}


def server_url(server: RunningServer) -> str:
    return f"redis://{server.host}:{server.port}/0"


def start_redis_server(port: int | None = None) -> RunningServer:
    """Start ``redis-server`` on ``port`` (a free one by default); unavailable() if it can't."""
    binary = find_executable("redis-server")
    if binary is None:
        unavailable("redis-server is not installed (apt-get install -y redis-server)")
    chosen = port or free_port()
    workdir = tempfile.mkdtemp(prefix="trellis-redis-")
    argv = [
        binary,
        "--port", str(chosen),
        "--bind", LOOPBACK,
        "--save", "",
        "--appendonly", "no",
        "--dir", workdir,
        "--protected-mode", "yes",
    ]  # fmt: skip
    try:
        return start_server("redis", argv, chosen, timeout=30.0)
    except RuntimeError as error:
        unavailable(f"redis-server did not start: {error}")


def restart_redis_server(server: RunningServer) -> RunningServer:
    """Kill ``server`` if it still runs (as a crash would) and start a fresh one on its port."""
    server.kill()
    return start_redis_server(server.port)


class PrivateRedis:
    """A ``redis-server`` owned by one test, which may break it on purpose."""

    def __init__(self) -> None:
        self.server = start_redis_server()
        self.paused = False

    @property
    def url(self) -> str:
        return server_url(self.server)

    def kill(self) -> None:
        self.resume()
        self.server.kill()

    def restart(self) -> None:
        """Kill (if running) and start a fresh, empty server on the same port."""
        self.resume()
        self.server = restart_redis_server(self.server)

    def pause(self) -> None:
        """Freeze the process: connections stay open but nothing answers."""
        self.server.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.server.process.send_signal(signal.SIGCONT)
            self.paused = False

    def stop(self) -> None:
        self.resume()
        self.server.stop()


@contextmanager
def private_redis_server() -> Iterator[PrivateRedis]:
    redis = PrivateRedis()
    try:
        yield redis
    finally:
        redis.stop()


def _own_url() -> str | None:
    server = _shared.get("server")
    return server_url(server) if isinstance(server, RunningServer) else None


def redis_url() -> str:
    """The Redis to test against, started once per process if ``REDIS_URL`` is not set."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url
    own = _own_url()
    if own is not None:
        return own
    server = start_redis_server()
    atexit.register(server.stop)
    _shared["server"] = server
    return server_url(server)


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    return redis_url()


def unique_namespace() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def redis_client(url: str | None = None) -> AsyncIterator[Redis]:
    """A client on ``url`` (default ``redis_url()``), pinged, closed afterwards. The database is
    flushed first when this process started the server (never on a ``REDIS_URL`` server)."""
    target = url or redis_url()
    client = create_client(target)
    try:
        try:
            await client.ping()
            if target == _own_url():
                await client.flushdb()
        except (RedisError, OSError) as error:
            unavailable(f"cannot reach Redis at {target}: {error!r}")
        yield client
    finally:
        await client.aclose()
