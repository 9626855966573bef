"""Keyset pages on MongoDB cost the same however deep they are: what reaches the server.

A deep page of a project's tasks must be ONE ``find`` — no ``skip``, no count, ``limit`` of
size + 1 — whose ``$or`` branches each carry the list's equality filters, so that every
branch is one range of an index declared on the documents: (project_id, deleted_at, [tag,]
created_at, _id) for the default sort. That index must exist on the server.

``explain``: a real ``mongod`` (``MONGODB_URL``) reports its query planner, and then the plan
must read the index with no in-memory SORT stage and examine about a page of keys. The
mongoeco wire server answers ``explain`` with its own engine's plan (a Python scan: it uses no
index at all), so on it only the first two checks apply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.monitoring import CommandStartedEvent

from adapters.mongo import MongoDatabase
from adapters.mongo.repositories import keyset_filter, sort_spec, task_filter
from domain.board import Task
from domain.paging import Keyset, KeysetRequest, Sort
from domain.ports import TaskQuery
from tests.integration.mongo.conftest import CommandLog, logged_database

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SIZE = 10


class FullCommandLog(CommandLog):
    def __init__(self) -> None:
        super().__init__()
        self.full: list[dict[str, Any]] = []

    def started(self, event: CommandStartedEvent) -> None:
        super().started(event)
        self.full.append(dict(event.command))

    def clear(self) -> None:
        super().clear()
        self.full.clear()


@pytest.fixture
async def logged() -> AsyncIterator[tuple[MongoDatabase, FullCommandLog]]:
    log = FullCommandLog()
    async with logged_database(log) as database:
        yield database, log


async def seed(database: MongoDatabase, count: int) -> None:
    uow = database.unit_of_work()
    for n in range(count):
        at = T0 + timedelta(seconds=n // 3)  # ties: three tasks per timestamp
        project = "p1" if n % 5 else "p2"
        tag = "field" if n % 2 else None
        await uow.tasks.add(
            Task(id=f"t{n:05d}", project_id=project, title=f"T{n}", created_at=at, updated_at=at, tag=tag)
        )


def index_keys(indexes: list[dict[str, Any]]) -> list[list[str]]:
    return [list(index["key"]) for index in indexes]


def equality_fields(branch: dict[str, Any]) -> list[str]:
    return [k for k, v in branch.items() if not k.startswith("$") and not isinstance(v, dict)]


@pytest.mark.parametrize("tag", [None, "field"])
async def test_a_deep_task_page_is_one_indexed_range_read(
    logged: tuple[MongoDatabase, FullCommandLog], tag: str | None
) -> None:
    database, log = logged
    await seed(database, 160)
    uow = database.unit_of_work()
    query, sort = TaskQuery("p1", tag=tag), Sort("created_at")
    after: Keyset | None = None
    for _ in range(2):  # walk to a deeper page
        page = await uow.tasks.list_keyset(query, KeysetRequest(size=SIZE, sort=sort, after=after))
        after = page.next
    assert after is not None

    log.clear()
    deep = await uow.tasks.list_keyset(query, KeysetRequest(size=SIZE, sort=sort, after=after))
    assert len(deep.items) == SIZE
    sent = [c for c in log.full if next(iter(c)) not in {"endSessions", "killCursors"}]
    assert [next(iter(c)) for c in sent] == ["find"], sent  # no count, no aggregate
    find = sent[0]
    assert find.get("skip", 0) == 0
    assert find["limit"] == SIZE + 1
    assert list(find["sort"]) == ["created_at", "_id"]

    indexes = await (await database.database["tasks"].list_indexes()).to_list()
    keys = index_keys(indexes)
    for branch in find["filter"]["$or"]:
        equal = equality_fields(branch)
        assert {"project_id", "deleted_at"} <= set(equal), branch
        prefix = ["project_id", "deleted_at"] + (["tag"] if tag else [])
        assert [*prefix, "created_at", "_id"] in keys, (branch, keys)

    explained = await database.database.command(
        "explain",
        {"find": "tasks", "filter": find["filter"], "sort": find["sort"], "limit": find["limit"]},
        verbosity="executionStats",
    )
    if "queryPlanner" in explained:  # a real mongod: the plan itself must be index-only ordered
        plan = str(explained["queryPlanner"]["winningPlan"])
        assert "IXSCAN" in plan
        assert "'stage': 'SORT'" not in plan
        assert explained["executionStats"]["totalKeysExamined"] <= 3 * (SIZE + 1)


async def test_keyset_filter_branches_repeat_the_filters_and_split_on_the_anchor() -> None:
    """The query shape the index argument above depends on, for both directions and a None anchor."""
    base = {**task_filter(TaskQuery("p1", tag="red")), "deleted_at": None}
    ascending = keyset_filter(base, Sort("finish_date"), Keyset(value=None, id="t1"))
    assert ascending == {
        "$or": [
            {**base, "finish_date": None, "_id": {"$gt": "t1"}},
            {**base, "finish_date": {"$ne": None}},
        ]
    }
    at = datetime(2025, 4, 1, tzinfo=UTC)
    descending = keyset_filter(base, Sort("finish_date", descending=True), Keyset(value=at.date(), id="t1"))
    assert descending == {
        "$or": [
            {**base, "finish_date": {"$lt": at}},
            {**base, "finish_date": at, "_id": {"$gt": "t1"}},
            {**base, "finish_date": None},
        ]
    }
    by_tag = keyset_filter(base, Sort("tag"), Keyset(value="red", id="t1"))
    assert by_tag["$or"][0] == {**base, "$and": [{"tag": {"$gt": "red"}}]}  # both conditions on tag kept
    assert sort_spec(Sort("tag", descending=True)) == [("tag", -1), ("_id", 1)]
