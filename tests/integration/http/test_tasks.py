"""Tasks through HTTP: CRUD under a project, derived progress, the completion lock, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.http.helpers import Api, Member, assert_error, assert_success

PROJECTS = "/api/v1/projects"
TASKS = "/api/v1/tasks"


async def _progress(api: Api, who: Member, project_id: str) -> float:
    response = await api.client.get(f"{PROJECTS}/{project_id}", headers=who.headers)
    progress: float = assert_success(response)["progress"]
    return progress


async def test_task_crud_under_a_project(api: Api, member: Member) -> None:
    h = member.headers
    project = await api.create_project(member)
    created = await api.client.post(
        f"{PROJECTS}/{project['id']}/tasks",
        json={"title": " Pour concrete ", "tag": "site", "progress": 20, "finish_date": "2026-05-01"},
        headers=h,
    )
    task = assert_success(created, 201)
    tid = task["id"]
    assert created.headers["location"] == f"{TASKS}/{tid}"
    assert created.headers["etag"] == '"v1"'
    assert task["title"] == "Pour concrete"
    assert task["project_id"] == project["id"]
    assert task["tag"] == "site"
    assert task["progress"] == 20
    assert task["completed"] is False
    assert task["finish_date"] == "2026-05-01"

    read = await api.client.get(f"{TASKS}/{tid}", headers=h)
    assert assert_success(read) == task
    assert read.headers["etag"] == '"v1"'

    replaced = assert_success(await api.client.put(f"{TASKS}/{tid}", json={"title": "Cure concrete"}, headers=h))
    assert replaced["title"] == "Cure concrete"
    assert replaced["tag"] is None
    assert replaced["progress"] == 0
    assert replaced["finish_date"] is None
    assert replaced["version"] == 2

    patched = assert_success(await api.client.patch(f"{TASKS}/{tid}", json={"tag": "qa", "progress": 40}, headers=h))
    assert patched["title"] == "Cure concrete"
    assert patched["tag"] == "qa"
    assert patched["progress"] == 40
    untagged = assert_success(await api.client.patch(f"{TASKS}/{tid}", json={"tag": None}, headers=h))
    assert untagged["tag"] is None
    assert untagged["progress"] == 40

    deleted = await api.client.delete(f"{TASKS}/{tid}", headers=h)
    assert deleted.status_code == 200
    assert deleted.json() == {"status": "success", "data": None, "meta": {}}
    assert_error(await api.client.get(f"{TASKS}/{tid}", headers=h), 404, "not_found")
    assert_error(await api.client.patch(f"{TASKS}/{tid}", json={"title": "x"}, headers=h), 404, "not_found")
    assert await api.stored_tasks(project["id"]) == []


async def test_progress_is_the_mean_of_live_tasks_rounded_to_one_decimal(api: Api, member: Member) -> None:
    project = await api.create_project(member)
    pid = project["id"]
    assert await _progress(api, member, pid) == 0

    a = await api.create_task(member, pid, progress=10)
    assert await _progress(api, member, pid) == 10
    b = await api.create_task(member, pid, progress=20)
    assert await _progress(api, member, pid) == 15
    await api.create_task(member, pid, progress=0)
    assert await _progress(api, member, pid) == 10  # (10 + 20 + 0) / 3

    await api.client.patch(f"{TASKS}/{a['id']}", json={"progress": 11}, headers=member.headers)
    assert await _progress(api, member, pid) == 10.3  # 31 / 3 = 10.333…

    await api.client.patch(f"{TASKS}/{b['id']}", json={"progress": 21}, headers=member.headers)
    assert await _progress(api, member, pid) == 10.7  # 32 / 3 = 10.666…

    await api.client.delete(f"{TASKS}/{b['id']}", headers=member.headers)
    assert await _progress(api, member, pid) == 5.5  # (11 + 0) / 2

    await api.client.put(f"{TASKS}/{a['id']}", json={"title": "full", "progress": 100}, headers=member.headers)
    assert await _progress(api, member, pid) == 50

    stored = await api.stored_project(pid)
    assert stored.progress == 50
    listed = await api.client.get(PROJECTS, headers=member.headers)
    assert listed.json()["data"][0]["progress"] == 50


async def test_progress_back_to_zero_when_every_task_is_deleted(api: Api, member: Member) -> None:
    project = await api.create_project(member)
    task = await api.create_task(member, project["id"], progress=70)
    assert await _progress(api, member, project["id"]) == 70

    await api.client.delete(f"{TASKS}/{task['id']}", headers=member.headers)

    assert await _progress(api, member, project["id"]) == 0


async def test_deleting_a_project_hides_its_tasks(api: Api, member: Member) -> None:
    project = await api.create_project(member)
    task = await api.create_task(member, project["id"])

    assert_success(await api.client.delete(f"{PROJECTS}/{project['id']}", headers=member.headers))

    assert_error(await api.client.get(f"{TASKS}/{task['id']}", headers=member.headers), 404, "not_found")
    assert await api.stored_tasks(project["id"]) == []


# --- the completion lock -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("PATCH", {"title": "reopen"}),
        ("PATCH", {"progress": 50}),
        ("PATCH", {"progress": 100}),
        ("PUT", {"title": "reopen", "progress": 10}),
        ("DELETE", None),
    ],
)
async def test_a_completed_task_refuses_every_change_with_409(
    api: Api, member: Member, method: str, body: dict[str, Any] | None
) -> None:
    project = await api.create_project(member)
    task = await api.create_task(member, project["id"], title="Done", progress=30)
    completed = await api.client.patch(f"{TASKS}/{task['id']}", json={"progress": 100}, headers=member.headers)
    assert assert_success(completed)["completed"] is True
    before = await api.stored_task(task["id"])
    events = api.event_count()

    response = await api.client.request(method, f"{TASKS}/{task['id']}", json=body, headers=member.headers)

    assert_error(response, 409, "task_completed")
    assert await api.stored_task(task["id"]) == before
    assert (await api.stored_project(project["id"])).progress == 100
    assert api.event_count() == events


async def test_a_task_created_at_100_is_locked_from_the_start(api: Api, member: Member) -> None:
    project = await api.create_project(member)
    task = await api.create_task(member, project["id"], progress=100)
    assert task["completed"] is True

    response = await api.client.patch(f"{TASKS}/{task['id']}", json={"progress": 0}, headers=member.headers)

    assert_error(response, 409, "task_completed")
    assert (await api.stored_task(task["id"])).progress == 100


async def test_completing_a_task_publishes_task_completed(api: Api, member: Member) -> None:
    project = await api.create_project(member)
    task = await api.create_task(member, project["id"])

    await api.client.patch(f"{TASKS}/{task['id']}", json={"progress": 100}, headers=member.headers)

    names = [e.name for e in api.container.publisher.history]
    assert any("completed" in name for name in names), names


# --- bad input: nothing stored -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.title"),
        ({"title": ""}, "body.title"),
        ({"title": "   "}, "body.title"),
        ({"title": "x" * 201}, "body.title"),
        ({"title": "ok", "progress": 101}, "body.progress"),
        ({"title": "ok", "progress": -1}, "body.progress"),
        ({"title": "ok", "progress": "50"}, "body.progress"),
        ({"title": "ok", "progress": 50.5}, "body.progress"),
        ({"title": "ok", "progress": True}, "body.progress"),
        ({"title": "ok", "tag": ""}, "body.tag"),
        ({"title": "ok", "tag": "   "}, "body.tag"),
        ({"title": "ok", "finish_date": "31/12/2026"}, "body.finish_date"),
        ({"title": "ok", "id": "mine"}, "body.id"),
        ({"title": "ok", "version": 3}, "body.version"),
        ({"title": "ok", "completed": True}, "body.completed"),
        ({"title": "ok", "project_id": "elsewhere"}, "body.project_id"),
    ],
)
async def test_invalid_task_is_422_naming_the_field_and_stores_nothing(
    api: Api, member: Member, body: dict[str, Any], field: str
) -> None:
    project = await api.create_project(member)
    events = api.event_count()

    response = await api.client.post(f"{PROJECTS}/{project['id']}/tasks", json=body, headers=member.headers)

    assert_error(response, 422, "validation_error", field=field)
    assert await api.stored_tasks(project["id"]) == []
    assert (await api.stored_project(project["id"])).version == project["version"]
    assert api.event_count() == events


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("PATCH", {"progress": 101}, "body.progress"),
        ("PATCH", {"progress": -1}, "body.progress"),
        ("PATCH", {"progress": "50"}, "body.progress"),
        ("PATCH", {"title": ""}, "body.title"),
        ("PATCH", {"title": "  "}, "body.title"),
        ("PATCH", {"completed": True}, "body.completed"),
        ("PATCH", {"id": "other"}, "body.id"),
        ("PATCH", {"version": 9}, "body.version"),
        ("PUT", {"progress": 10}, "body.title"),
        ("PUT", {"title": "ok", "progress": 101}, "body.progress"),
        ("PUT", {"title": "ok", "completed": True}, "body.completed"),
    ],
)
async def test_invalid_task_change_is_422_and_never_applied(
    api: Api, member: Member, method: str, body: dict[str, Any], field: str
) -> None:
    project = await api.create_project(member)
    task = await api.create_task(member, project["id"], title="Steady", progress=40)
    before = await api.stored_task(task["id"])
    events = api.event_count()

    response = await api.client.request(method, f"{TASKS}/{task['id']}", json=body, headers=member.headers)

    assert_error(response, 422, "validation_error", field=field)
    assert await api.stored_task(task["id"]) == before
    assert (await api.stored_project(project["id"])).progress == 40
    assert api.event_count() == events


async def test_malformed_json_on_a_task_is_400_and_changes_nothing(api: Api, member: Member) -> None:
    project = await api.create_project(member)
    task = await api.create_task(member, project["id"], title="Steady")
    headers = {**member.headers, "Content-Type": "application/json"}

    created = await api.client.post(f"{PROJECTS}/{project['id']}/tasks", content=b'{"title": ', headers=headers)
    patched = await api.client.patch(f"{TASKS}/{task['id']}", content=b"{progress: 5}", headers=headers)

    assert_error(created, 400, "malformed_request")
    assert_error(patched, 400, "malformed_request")
    assert [t.title for t in await api.stored_tasks(project["id"])] == ["Steady"]
    assert (await api.stored_task(task["id"])).version == 1


@pytest.mark.parametrize("task_id", ["missing", "%00", "x" * 4000, "%E2%80%AE"])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_unknown_or_ill_formed_task_id_is_404(api: Api, member: Member, task_id: str, method: str) -> None:
    body = {"title": "t"} if method in ("PUT", "PATCH") else None

    response = await api.client.request(method, f"{TASKS}/{task_id}", json=body, headers=member.headers)

    assert_error(response, 404, "not_found")


async def test_stale_if_match_on_a_task_is_412_and_not_applied(api: Api, member: Member) -> None:
    project = await api.create_project(member)
    task = await api.create_task(member, project["id"], title="v1", progress=5)
    await api.client.patch(f"{TASKS}/{task['id']}", json={"title": "v2"}, headers=member.headers)
    stale = {**member.headers, "If-Match": '"v1"'}

    patched = await api.client.patch(f"{TASKS}/{task['id']}", json={"progress": 90}, headers=stale)
    deleted = await api.client.delete(f"{TASKS}/{task['id']}", headers=stale)

    assert_error(patched, 412, "precondition_failed")
    assert_error(deleted, 412, "precondition_failed")
    stored = await api.stored_task(task["id"])
    assert (stored.title, stored.progress) == ("v2", 5)
    assert (await api.stored_project(project["id"])).progress == 5


async def test_task_etag_if_none_match_answers_304(api: Api, member: Member) -> None:
    project = await api.create_project(member)
    task = await api.create_task(member, project["id"])

    response = await api.client.get(f"{TASKS}/{task['id']}", headers={**member.headers, "If-None-Match": '"v1"'})

    assert response.status_code == 304
    assert response.content == b""


# --- visibility and ownership --------------------------------------------------------------


async def test_tasks_of_another_members_personal_project_do_not_exist_for_me(
    api: Api, member: Member, other: Member
) -> None:
    project = await api.create_project(other, visibility="personal")
    task = await api.create_task(other, project["id"], title="Private", progress=10)
    url = f"{TASKS}/{task['id']}"

    assert_error(await api.client.get(url, headers=member.headers), 404, "not_found")
    assert_error(await api.client.put(url, json={"title": "x"}, headers=member.headers), 404, "not_found")
    assert_error(await api.client.patch(url, json={"progress": 99}, headers=member.headers), 404, "not_found")
    assert_error(await api.client.delete(url, headers=member.headers), 404, "not_found")
    stored = await api.stored_task(task["id"])
    assert (stored.title, stored.progress) == ("Private", 10)


async def test_tasks_of_another_members_public_project_are_readable_not_changeable(
    api: Api, member: Member, other: Member
) -> None:
    project = await api.create_project(other, visibility="public")
    task = await api.create_task(other, project["id"], title="Shared", progress=10)
    url = f"{TASKS}/{task['id']}"
    events = api.event_count()

    assert assert_success(await api.client.get(url, headers=member.headers))["title"] == "Shared"
    assert_error(await api.client.put(url, json={"title": "x"}, headers=member.headers), 403, "forbidden")
    assert_error(await api.client.patch(url, json={"progress": 99}, headers=member.headers), 403, "forbidden")
    assert_error(await api.client.delete(url, headers=member.headers), 403, "forbidden")

    stored = await api.stored_task(task["id"])
    assert (stored.title, stored.progress, stored.version) == ("Shared", 10, 1)
    assert (await api.stored_project(project["id"])).progress == 10
    assert api.event_count() == events
