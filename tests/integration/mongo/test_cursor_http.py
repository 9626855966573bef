"""``?cursor=`` end to end on MongoDB: positions made from stored (millisecond) timestamps walk
the list exactly, under inserts and with a deleted anchor, and a cursor stays signed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.http.helpers import Api, assert_error, assert_success
from tests.integration.http.test_cursor_paging import tasks_url
from tests.integration.mongo.conftest import drop_database
from tests.integration.mongo.test_http import running_api
from tests.support.mongo import mongo_url


@pytest.fixture
async def database(database_name: str) -> AsyncIterator[str]:
    yield database_name
    await drop_database(database_name)


async def test_walking_tasks_by_cursor_on_mongodb(database: str) -> None:
    async with running_api(MONGODB_URL=mongo_url(), MONGODB_DATABASE=database) as api:
        await cursor_walk(api)


async def cursor_walk(api: Api) -> None:
    member = await api.member()
    project = (await api.create_project(member, title="Mongo walk"))["id"]
    existing = [(await api.create_task(member, project, title=f"t{i}"))["id"] for i in range(7)]

    seen: list[str] = []
    cursor, step = "", 0
    while True:
        response = await api.client.get(
            tasks_url(project), params={"cursor": cursor, "size": 3}, headers=member.headers
        )
        seen += [t["id"] for t in assert_success(response)]
        assert set(response.json()["meta"]) == {"size", "next_cursor"}
        cursor = response.json()["meta"]["next_cursor"]
        if cursor is None:
            break
        if step == 0:  # the anchor goes away, and a task is added after it
            deleted = await api.client.delete(f"/api/v1/tasks/{seen[-1]}", headers=member.headers)
            assert deleted.status_code == 200, deleted.text
            await api.create_task(member, project, title="late")
        step += 1

    assert len(seen) == len(set(seen)) == 8
    assert seen[:7] == existing

    first = await api.client.get(tasks_url(project), params={"cursor": "", "size": 1}, headers=member.headers)
    good = first.json()["meta"]["next_cursor"]
    assert isinstance(good, str)
    tampered = good[:-2] + ("BB" if good.endswith("AA") else "AA")
    refused = await api.client.get(tasks_url(project), params={"cursor": tampered}, headers=member.headers)
    assert_error(refused, 422, "invalid_cursor", "query.cursor")
