"""MongoDB integration: the service's use cases, ``trellis seed`` and the HTTP app on MongoDB.

Every test runs against ``MONGODB_URL`` when set, else the mongoeco wire server that
``tests/support/mongo.py`` starts once per process; the outage test starts a private one it may
kill. Each test uses its own, uniquely named database and drops it afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from adapters.mongo import MongoDatabase
from tests.support.mongo import mongo_url
from tests.support.services import unavailable

pytestmark = pytest.mark.real_service


class CommandLog(CommandListener):
    """PyMongo command monitoring: every command the client sent, by name and collection."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, Any]] = []

    def started(self, event: CommandStartedEvent) -> None:
        self.commands.append((event.command_name, event.command.get(event.command_name)))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    def clear(self) -> None:
        self.commands.clear()

    def queries(self) -> list[tuple[str, Any]]:
        """What reached the server, minus session bookkeeping the driver sends on its own."""
        return [(name, target) for name, target in self.commands if name not in {"endSessions", "killCursors"}]


@pytest.fixture
def database_name() -> str:
    return f"trellis_it_{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def logged_database(log: CommandListener) -> AsyncIterator[MongoDatabase]:
    """A fresh database on a client whose every command goes to ``log``; dropped afterwards."""
    url = mongo_url()
    try:
        database = await MongoDatabase.connect(url, f"trellis_it_{uuid.uuid4().hex[:12]}", command_listeners=[log])
    except Exception as error:
        unavailable(f"cannot connect to MongoDB at {url}: {error!r}")
    try:
        yield database
    finally:
        try:
            await database.drop()
        finally:
            await database.close()


@pytest.fixture
async def monitored() -> AsyncIterator[tuple[MongoDatabase, CommandLog]]:
    """A fresh database on a client whose every command is logged."""
    log = CommandLog()
    async with logged_database(log) as database:
        yield database, log


async def drop_database(name: str) -> None:
    database = await MongoDatabase.connect(mongo_url(), name)
    try:
        await database.drop()
    finally:
        await database.close()
