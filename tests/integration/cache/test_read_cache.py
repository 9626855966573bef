"""Cache-aside reads are never stale: writes and reads interleaved through HTTP, memory and Redis."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from prometheus_client import REGISTRY

from tests.integration.http.helpers import Api, Member, assert_success, running_api


def cache_events(result: str) -> float:
    return REGISTRY.get_sample_value("trellis_cache_events_total", {"result": result}) or 0.0


async def read(api: Api, who: Member, path: str) -> tuple[int, Any]:
    response = await api.client.get(path, headers=who.headers)
    return response.status_code, response.json()["data"] if response.status_code == 200 else None


async def assert_views_match_database(api: Api, project_id: str, viewers: list[Member]) -> None:
    """Every cached view (project, task, both lists) equals what the database holds now."""
    project = await api.stored_project(project_id)
    tasks = {t.id: t for t in await api.stored_tasks(project_id)}
    for who in viewers:
        status, data = await read(api, who, f"/api/v1/projects/{project_id}")
        visible = project.visibility.value == "public" or who.user_id == project.owner_id
        if not visible:
            assert status == 404
            continue
        assert status == 200
        assert (data["version"], data["title"], data["progress"]) == (project.version, project.title, project.progress)
        _, listed = await read(api, who, "/api/v1/projects?size=100")
        mine = [p for p in listed if p["id"] == project_id]
        assert len(mine) == 1
        assert (mine[0]["version"], mine[0]["progress"]) == (project.version, project.progress)
        _, page = await read(api, who, f"/api/v1/projects/{project_id}/tasks?size=100")
        assert {t["id"]: (t["version"], t["progress"]) for t in page} == {
            t.id: (t.version, t.progress) for t in tasks.values()
        }
        for task in list(tasks.values())[-2:]:
            status, one = await read(api, who, f"/api/v1/tasks/{task.id}")
            assert status == 200
            assert (one["version"], one["progress"], one["title"]) == (task.version, task.progress, task.title)


async def test_reads_after_writes_are_never_stale(api: Api) -> None:
    owner, other = await api.member(), await api.member()
    project = await api.create_project(owner, visibility="public")
    pid = project["id"]
    rng = random.Random(5)
    task_ids: list[str] = []
    hits_before = cache_events("hit")
    for step in range(14):
        await assert_views_match_database(api, pid, [owner, other])  # warm every cache entry
        choice = rng.choice(["add", "add", "progress", "title", "visibility", "delete"])
        if choice == "add" or not task_ids:
            task_ids.append((await api.create_task(owner, pid, progress=rng.randint(0, 90)))["id"])
        elif choice == "progress":
            tid = rng.choice(task_ids)
            response = await api.client.patch(
                f"/api/v1/tasks/{tid}", json={"progress": rng.randint(0, 99)}, headers=owner.headers
            )
            assert_success(response)
        elif choice == "title":
            body = {"title": f"Renamed {step}"}
            assert_success(await api.client.patch(f"/api/v1/projects/{pid}", json=body, headers=owner.headers))
        elif choice == "visibility":
            body = {"visibility": rng.choice(["public", "personal"])}
            assert_success(await api.client.patch(f"/api/v1/projects/{pid}", json=body, headers=owner.headers))
        else:
            tid = task_ids.pop(rng.randrange(len(task_ids)))
            assert_success(await api.client.delete(f"/api/v1/tasks/{tid}", headers=owner.headers))
        await assert_views_match_database(api, pid, [owner, other])  # right after the write
    assert cache_events("hit") > hits_before, "the cache was used"


async def test_concurrent_writers_each_read_their_own_write(api: Api) -> None:
    owner = await api.member()
    pid = (await api.create_project(owner, visibility="public"))["id"]
    tasks = [(await api.create_task(owner, pid))["id"] for _ in range(4)]

    async def writer(tid: str, seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(8):
            value = rng.randint(0, 99)
            response = await api.client.patch(f"/api/v1/tasks/{tid}", json={"progress": value}, headers=owner.headers)
            written = assert_success(response)
            _, task = await read(api, owner, f"/api/v1/tasks/{tid}")
            assert task["version"] >= written["version"]
            assert task["progress"] == value  # only this writer changes this task
            _, page = await read(api, owner, f"/api/v1/projects/{pid}/tasks?size=100")
            listed = next(t for t in page if t["id"] == tid)
            assert listed["version"] >= written["version"]

    async def reader() -> None:
        for _ in range(30):
            await read(api, owner, f"/api/v1/projects/{pid}")
            await read(api, owner, "/api/v1/projects")
            await asyncio.sleep(0)

    await asyncio.gather(*(writer(t, i) for i, t in enumerate(tasks)), reader(), reader())
    await assert_views_match_database(api, pid, [owner])


async def test_a_cached_personal_project_is_never_served_to_another_user(api: Api) -> None:
    owner, other = await api.member(), await api.member()
    project = await api.create_project(owner, visibility="public")
    pid = project["id"]
    assert (await read(api, other, f"/api/v1/projects/{pid}"))[0] == 200  # cached while public
    task = await api.create_task(owner, pid)
    assert (await read(api, other, f"/api/v1/tasks/{task['id']}"))[0] == 200
    body = {"visibility": "personal"}
    assert_success(await api.client.patch(f"/api/v1/projects/{pid}", json=body, headers=owner.headers))
    assert (await read(api, other, f"/api/v1/projects/{pid}"))[0] == 404
    assert (await read(api, other, f"/api/v1/tasks/{task['id']}"))[0] == 404
    assert (await read(api, other, f"/api/v1/projects/{pid}/tasks"))[0] == 404
    _, listed = await read(api, other, "/api/v1/projects")
    assert pid not in {p["id"] for p in listed}
    assert (await read(api, owner, f"/api/v1/projects/{pid}"))[0] == 200


async def test_project_progress_follows_task_changes_in_every_view(api: Api) -> None:
    owner = await api.member()
    pid = (await api.create_project(owner))["id"]
    first = await api.create_task(owner, pid, progress=20)
    await api.create_task(owner, pid, progress=40)
    assert (await read(api, owner, f"/api/v1/projects/{pid}"))[1]["progress"] == 30
    assert_success(await api.client.patch(f"/api/v1/tasks/{first['id']}", json={"progress": 60}, headers=owner.headers))
    assert (await read(api, owner, f"/api/v1/projects/{pid}"))[1]["progress"] == 50
    _, listed = await read(api, owner, "/api/v1/projects")
    assert next(p for p in listed if p["id"] == pid)["progress"] == 50
    assert_success(await api.client.delete(f"/api/v1/projects/{pid}", headers=owner.headers))
    assert (await read(api, owner, f"/api/v1/projects/{pid}"))[0] == 404
    assert (await read(api, owner, f"/api/v1/tasks/{first['id']}"))[0] == 404


async def test_cache_ttl_zero_turns_the_read_cache_off() -> None:
    """``CACHE_TTL_SECONDS=0`` (the bench's uncached runs): every read goes to the store, none is a hit."""
    async with running_api(RATE_LIMIT_DEFAULT="100000/minute", CACHE_TTL_SECONDS="0") as api:
        owner = await api.member()
        pid = (await api.create_project(owner))["id"]
        before = {r: cache_events(r) for r in ("hit", "miss", "bypass")}
        for _ in range(3):
            assert (await read(api, owner, f"/api/v1/projects/{pid}"))[0] == 200
            assert (await read(api, owner, f"/api/v1/projects/{pid}/tasks"))[0] == 200
        assert {r: cache_events(r) for r in ("hit", "miss", "bypass")} == before
