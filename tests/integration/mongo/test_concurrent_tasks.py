"""Concurrent task writes to one project on MongoDB (the scenarios of the HTTP suite).

Before the derived-progress retry backed off, 16 concurrent creates in one project got 409
``version_conflict`` for most of them: every transaction writes the project's progress, MongoDB
aborts all but one per round with WriteConflict (``TransientTransactionError``), and five
immediate re-runs collided again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.http.test_task_concurrency import (
    concurrent_creates,
    concurrent_if_match_on_one_task,
    concurrent_updates_of_different_tasks,
)
from tests.integration.mongo.conftest import drop_database
from tests.integration.mongo.test_http import running_api
from tests.support.mongo import mongo_url


@pytest.fixture
async def database(database_name: str) -> AsyncIterator[str]:
    yield database_name
    await drop_database(database_name)


async def test_concurrent_creates_in_one_project_all_succeed(database: str) -> None:
    async with running_api(MONGODB_URL=mongo_url(), MONGODB_DATABASE=database) as api:
        await concurrent_creates(api)


async def test_concurrent_updates_of_different_tasks_all_succeed(database: str) -> None:
    async with running_api(MONGODB_URL=mongo_url(), MONGODB_DATABASE=database) as api:
        await concurrent_updates_of_different_tasks(api)


async def test_a_stale_if_match_still_fails_under_concurrency(database: str) -> None:
    async with running_api(MONGODB_URL=mongo_url(), MONGODB_DATABASE=database) as api:
        await concurrent_if_match_on_one_task(api)
