"""All-or-nothing writes across repositories with a MongoDB multi-document transaction.

``transaction()`` starts a client session and a transaction, and publishes the session in a
``ContextVar``; every repository call made in the same asyncio task (and tasks it spawns)
passes it to the driver, so concurrent requests never share a session. Normal exit commits,
an exception aborts. A nested ``transaction()`` joins the outer one.

Transactions need a replica set or mongos (``MongoDatabase.supports_transactions``). On a
standalone server (a developer's plain ``mongod``) the unit of work is built with
``transactional=False``: ``transaction()`` then only groups the calls and each write stands
alone — a crash between two writes can leave a project's progress stale until the next task
change or the consistency job recomputes it (the recompute is idempotent). The composition
root refuses to start in production on such a deployment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.asynchronous.mongo_client import AsyncMongoClient

from adapters.mongo.content import MongoCollectionRepository, MongoPostRepository
from adapters.mongo.errors import translated
from adapters.mongo.repositories import MongoProjectRepository, MongoTaskRepository, MongoUserRepository

_active_session: ContextVar[AsyncClientSession | None] = ContextVar("trellis_mongo_session", default=None)


class MongoUnitOfWork:
    def __init__(
        self,
        client: AsyncMongoClient[dict[str, Any]],
        database: AsyncDatabase[dict[str, Any]],
        *,
        transactional: bool = True,
    ) -> None:
        self._client = client
        self.transactional = transactional
        self.users = MongoUserRepository(database, self.active_session)
        self.projects = MongoProjectRepository(database, self.active_session)
        self.tasks = MongoTaskRepository(database, self.active_session)
        self.posts = MongoPostRepository(database, self.active_session)
        self.collections = MongoCollectionRepository(database, self.active_session)

    def active_session(self) -> AsyncClientSession | None:
        """The session of the transaction open in this task on this client, if any."""
        session = _active_session.get()
        if session is None or session.client is not self._client or session.has_ended:
            return None
        return session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if not self.transactional or self.active_session() is not None:
            yield  # standalone server: no transactions; or join the one already open in this task
            return
        with translated():
            session = self._client.start_session()
        token = _active_session.set(session)
        try:
            with translated():
                await session.start_transaction()
            try:
                yield
            except BaseException:
                await session.abort_transaction()  # the driver swallows errors from abort
                raise
            with translated():
                await session.commit_transaction()
        finally:
            _active_session.reset(token)
            await session.end_session()
