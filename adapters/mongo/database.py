"""The MongoDB connection: one ``AsyncMongoClient`` per process, Beanie initialised once.

``MongoDatabase.connect(url, database)`` creates the client with bounded timeouts (a dead
server surfaces as ``DependencyUnavailable`` within about ``server_selection_timeout_ms``),
runs ``init_beanie`` (which creates the indexes declared on the documents; creating an index
that already exists is a no-op, so start-up is idempotent), and probes whether the server
can run multi-document transactions. The client reconnects by itself: when MongoDB comes
back, the next call succeeds without a restart.

What the deployment must provide
--------------------------------
Multi-document transactions (``UnitOfWork.transaction``: a task change and its project's
progress, a project delete and its tasks) need a **replica set** (a single-node one is
enough: ``mongod --replSet rs0`` then ``rs.initiate()``) or a sharded cluster (mongos). A
standalone ``mongod`` has sessions but no transactions. ``supports_transactions`` tells
which one this is: ``hello`` naming a replica set (``setName``) or a mongos
(``msg: "isdbgrid"``) means yes; otherwise a transaction is probed (start, read, abort),
which is how the mongoeco wire test server — standalone in ``hello`` yet transactional — is
recognised. The composition root refuses to start with ``APP_ENV=production`` when this is
``False``, because writes would no longer be all-or-nothing; elsewhere (development) the unit
of work then runs each write on its own (see ``adapters.mongo.unit_of_work``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from beanie import init_beanie
from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError
from pymongo.monitoring import CommandListener

from adapters.mongo.documents import ALL_DOCUMENTS
from adapters.mongo.errors import DEPENDENCY, is_unavailable, translated
from adapters.mongo.unit_of_work import MongoUnitOfWork
from domain.errors import DependencyUnavailable

_PROBE_COLLECTION = "_trellis_transaction_probe"


class MongoDatabase:
    def __init__(
        self,
        client: AsyncMongoClient[dict[str, Any]],
        database: AsyncDatabase[dict[str, Any]],
        supports_transactions: bool,
    ) -> None:
        self.client = client
        self.database = database
        self.supports_transactions = supports_transactions

    @classmethod
    async def connect(
        cls,
        url: str,
        database: str,
        *,
        server_selection_timeout_ms: int = 2000,
        socket_timeout_ms: int = 5000,
        connect_timeout_ms: int = 2000,
        command_listeners: Sequence[CommandListener] = (),
    ) -> MongoDatabase:
        """Connect, initialise Beanie and the indexes; ``DependencyUnavailable`` if unreachable.

        ``command_listeners`` (PyMongo command monitoring) see every command the client sends:
        tests count queries with them, an operator could log slow ones."""
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            url,
            serverSelectionTimeoutMS=server_selection_timeout_ms,
            socketTimeoutMS=socket_timeout_ms,
            connectTimeoutMS=connect_timeout_ms,
            tz_aware=True,
            tzinfo=UTC,
            appname="trellis",
            event_listeners=list(command_listeners),
        )
        db = client.get_database(database, codec_options=CodecOptions(tz_aware=True, tzinfo=UTC))
        try:
            with translated():
                await init_beanie(database=db, document_models=list(ALL_DOCUMENTS))
                transactions = await _probe_transactions(client, db)
        except BaseException:
            await client.close()
            raise
        return cls(client, db, transactions)

    def unit_of_work(self) -> MongoUnitOfWork:
        return MongoUnitOfWork(self.client, self.database, transactional=self.supports_transactions)

    async def ping(self) -> None:
        """For readiness checks: ``DependencyUnavailable`` unless the server answers."""
        try:
            await self.database.command("ping")
        except PyMongoError as error:
            raise DependencyUnavailable(DEPENDENCY) from error

    async def drop(self) -> None:
        """Drop this database (tests and benchmarks use a fresh one each)."""
        with translated():
            await self.client.drop_database(self.database.name)

    async def close(self) -> None:
        await self.client.close()


async def _probe_transactions(client: AsyncMongoClient[dict[str, Any]], db: AsyncDatabase[dict[str, Any]]) -> bool:
    hello: dict[str, Any] = await client.admin.command("hello")
    if hello.get("setName") or hello.get("msg") == "isdbgrid":
        return True
    try:
        async with client.start_session() as session:
            await session.start_transaction()
            try:
                await db[_PROBE_COLLECTION].find_one({}, session=session)
            finally:
                await session.abort_transaction()
    except OperationFailure as error:
        if is_unavailable(error):
            raise
        return False  # e.g. IllegalOperation: "Transaction numbers are only allowed on a replica set member or mongos"
    return True
