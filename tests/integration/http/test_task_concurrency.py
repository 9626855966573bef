"""Concurrent task writes to one project: no client sees a race it did not cause.

Every task create, progress update or delete recomputes the project's derived progress in the
same transaction, so concurrent requests to one project all write the project document (on
MongoDB all but one of them abort per round with a ``TransientTransactionError``/WriteConflict).
None of these clients sent If-Match: each must get its 2xx, and the project's progress must end
as the mean of its tasks. A client's own stale If-Match still loses with 412.

The scenarios take an ``Api``; here they run on the in-memory stores, and
``tests/integration/mongo/test_concurrent_tasks.py`` runs them on MongoDB.
"""

from __future__ import annotations

import asyncio

from domain.board import progress_from_totals
from tests.integration.http.helpers import Api, assert_error

CONCURRENCY = 16


def mean(values: list[int]) -> float:
    return progress_from_totals(len(values), sum(values))


async def concurrent_creates(api: Api) -> None:
    owner = await api.member()
    project = await api.create_project(owner, title="Busy")
    url = f"/api/v1/projects/{project['id']}/tasks"
    wanted = [(7 * i) % 100 for i in range(CONCURRENCY)]

    responses = await asyncio.gather(
        *(
            api.client.post(url, json={"title": f"t{i}", "progress": value}, headers=owner.headers)
            for i, value in enumerate(wanted)
        )
    )

    assert [r.status_code for r in responses] == [201] * CONCURRENCY, [r.text for r in responses if r.is_error]
    stored = await api.stored_tasks(project["id"])
    assert sorted(t.progress for t in stored) == sorted(wanted)
    assert (await api.stored_project(project["id"])).progress == mean(wanted)


async def concurrent_updates_of_different_tasks(api: Api) -> None:
    owner = await api.member()
    project = await api.create_project(owner, title="Busy")
    tasks = [await api.create_task(owner, project["id"]) for _ in range(CONCURRENCY)]
    wanted = [(13 * i) % 99 for i in range(CONCURRENCY)]

    responses = await asyncio.gather(
        *(
            api.client.patch(f"/api/v1/tasks/{task['id']}", json={"progress": value}, headers=owner.headers)
            for task, value in zip(tasks, wanted, strict=True)
        )
    )

    assert [r.status_code for r in responses] == [200] * CONCURRENCY, [r.text for r in responses if r.is_error]
    assert [r.json()["data"]["progress"] for r in responses] == wanted
    assert (await api.stored_project(project["id"])).progress == mean(wanted)


async def concurrent_if_match_on_one_task(api: Api) -> None:
    owner = await api.member()
    project = await api.create_project(owner, title="Busy")
    task = await api.create_task(owner, project["id"])
    same_version = {**owner.headers, "If-Match": f'"v{task["version"]}"'}

    first, second = await asyncio.gather(
        api.client.patch(f"/api/v1/tasks/{task['id']}", json={"progress": 30}, headers=same_version),
        api.client.patch(f"/api/v1/tasks/{task['id']}", json={"progress": 70}, headers=same_version),
    )

    assert sorted([first.status_code, second.status_code]) == [200, 412]
    winner, loser = (first, second) if first.status_code == 200 else (second, first)
    assert_error(loser, 412, "precondition_failed")
    assert (await api.stored_project(project["id"])).progress == winner.json()["data"]["progress"]


async def test_concurrent_creates_in_one_project_all_succeed(api: Api) -> None:
    await concurrent_creates(api)


async def test_concurrent_updates_of_different_tasks_all_succeed(api: Api) -> None:
    await concurrent_updates_of_different_tasks(api)


async def test_a_stale_if_match_still_fails_under_concurrency(api: Api) -> None:
    await concurrent_if_match_on_one_task(api)
