"""A MongoDB for tests: ``MONGODB_URL`` when set, else the mongoeco wire server on a free port.

- ``mongo_url()`` returns the URL, starting the wire server once per test process on first
  use (stopped at exit; the launcher also exits if this process dies). When neither works it
  calls ``unavailable()``: a skip, or a failure under ``REQUIRE_REAL_SERVICES=1``.
- ``mongo_server_url`` is the same as a session-scoped fixture.
- ``mongo_database()`` / ``mongo_unit_of_work()`` are async context managers on a fresh,
  uniquely named database that is dropped afterwards.
- ``start_wire_server(port)`` starts a private wire server (outage tests kill and restart it).

The wire server is installed by ``tools/mongo/install.sh`` into ``tools/mongo/.venv``.
"""

from __future__ import annotations

import atexit
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from adapters.mongo import MongoDatabase, MongoUnitOfWork
from tests.support.services import LOOPBACK, RunningServer, free_port, start_server, unavailable

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "mongo"
WIRE_PYTHON = TOOLS / ".venv" / "bin" / "python"
LAUNCHER = TOOLS / "serve.py"

_shared: dict[str, str | RunningServer] = {}


def wire_url(port: int) -> str:
    return f"mongodb://{LOOPBACK}:{port}/?directConnection=true"


def start_wire_server(port: int | None = None) -> RunningServer:
    """Start the mongoeco wire server on ``port`` (a free one by default); unavailable() if it can't."""
    if not WIRE_PYTHON.exists():
        unavailable(f"the MongoDB-wire test server is not installed: run tools/mongo/install.sh ({WIRE_PYTHON})")
    chosen = port or free_port()
    argv = [str(WIRE_PYTHON), str(LAUNCHER), "--port", str(chosen), "--host", LOOPBACK, "--exit-with-parent"]
    try:
        return start_server("mongoeco", argv, chosen, timeout=60.0)
    except RuntimeError as error:
        unavailable(f"the MongoDB-wire test server did not start: {error}")


def mongo_url() -> str:
    """The MongoDB to test against, started once per process if ``MONGODB_URL`` is not set."""
    url = os.environ.get("MONGODB_URL")
    if url:
        return url
    cached = _shared.get("url")
    if isinstance(cached, str):
        return cached
    server = start_wire_server()
    atexit.register(server.stop)
    _shared["server"] = server
    _shared["url"] = wire_url(server.port)
    return wire_url(server.port)


@pytest.fixture(scope="session")
def mongo_server_url() -> str:
    return mongo_url()


@asynccontextmanager
async def mongo_database(url: str | None = None, **timeouts: int) -> AsyncIterator[MongoDatabase]:
    """A connected ``MongoDatabase`` on a fresh database, dropped and closed afterwards."""
    name = f"trellis_test_{uuid.uuid4().hex[:16]}"
    target = url or mongo_url()
    try:
        database = await MongoDatabase.connect(target, name, **timeouts)
    except Exception as error:  # unreachable URL, wrong server, …
        unavailable(f"cannot connect to MongoDB at {target}: {error!r}")
    try:
        yield database
    finally:
        try:
            await database.drop()
        finally:
            await database.close()


@asynccontextmanager
async def mongo_unit_of_work(url: str | None = None) -> AsyncIterator[MongoUnitOfWork]:
    """A ``MongoUnitOfWork`` on a fresh, uniquely named database that is dropped afterwards."""
    async with mongo_database(url) as database:
        yield database.unit_of_work()
