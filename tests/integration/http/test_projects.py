"""Projects through HTTP: CRUD, envelopes, ETags, lists — and bad input that stores nothing."""

from __future__ import annotations

from typing import Any

import pytest

from domain.identity import Role
from tests.integration.http.helpers import Api, Member, assert_error, assert_success

PROJECTS = "/api/v1/projects"


async def test_create_read_replace_patch_delete(api: Api, member: Member) -> None:
    h = member.headers
    created = await api.client.post(
        PROJECTS,
        json={
            "title": "  Bridge  ",
            "description": "Span the river",
            "visibility": "public",
            "finish_date": "2026-06-30",
            "site": {"place": "Lyon", "lat": 45.76, "lon": 4.83},
        },
        headers=h,
    )
    project = assert_success(created, 201)
    pid = project["id"]
    assert created.headers["location"] == f"{PROJECTS}/{pid}"
    assert created.headers["etag"] == '"v1"'
    assert project["title"] == "Bridge"
    assert project["owner_id"] == member.user_id
    assert project["visibility"] == "public"
    assert project["finish_date"] == "2026-06-30"
    assert project["site"] == {"place": "Lyon", "lat": 45.76, "lon": 4.83}
    assert project["progress"] == 0
    assert project["version"] == 1
    assert created.json()["meta"] == {}

    read = await api.client.get(f"{PROJECTS}/{pid}", headers=h)
    assert assert_success(read) == project
    assert read.headers["etag"] == '"v1"'
    assert read.headers["cache-control"] == "private, no-cache"

    replaced = assert_success(await api.client.put(f"{PROJECTS}/{pid}", json={"title": "Tunnel"}, headers=h))
    assert replaced["title"] == "Tunnel"
    assert replaced["description"] == ""
    assert replaced["visibility"] == "personal"
    assert replaced["finish_date"] is None
    assert replaced["site"] is None
    assert replaced["version"] == 2

    patched = await api.client.patch(
        f"{PROJECTS}/{pid}", json={"description": "Under the river", "finish_date": "2027-01-01"}, headers=h
    )
    body = assert_success(patched)
    assert body["title"] == "Tunnel"
    assert body["description"] == "Under the river"
    assert body["finish_date"] == "2027-01-01"
    assert patched.headers["etag"] == '"v3"'

    cleared = assert_success(await api.client.patch(f"{PROJECTS}/{pid}", json={"finish_date": None}, headers=h))
    assert cleared["finish_date"] is None
    assert cleared["description"] == "Under the river"

    deleted = await api.client.delete(f"{PROJECTS}/{pid}", headers=h)
    assert deleted.json() == {"status": "success", "data": None, "meta": {}}
    assert deleted.status_code == 200

    assert_error(await api.client.get(f"{PROJECTS}/{pid}", headers=h), 404, "not_found")
    assert_error(await api.client.patch(f"{PROJECTS}/{pid}", json={"title": "x"}, headers=h), 404, "not_found")
    assert_error(await api.client.delete(f"{PROJECTS}/{pid}", headers=h), 404, "not_found")
    listed = await api.client.get(PROJECTS, headers=h)
    assert listed.json()["meta"]["total"] == 0
    assert await api.stored_projects() == []


async def test_create_publishes_an_event(api: Api, member: Member) -> None:
    project = await api.create_project(member)

    names = [e.name for e in api.container.publisher.history if e.project_id == project["id"]]
    assert names
    assert names[0].startswith("project")


async def test_etag_if_none_match_answers_304(api: Api, member: Member) -> None:
    project = await api.create_project(member)
    url = f"{PROJECTS}/{project['id']}"

    fresh = await api.client.get(url, headers={**member.headers, "If-None-Match": '"v1"'})
    assert fresh.status_code == 304
    assert fresh.content == b""
    assert fresh.headers["etag"] == '"v1"'
    assert fresh.headers.get("x-request-id")

    await api.client.patch(url, json={"title": "Renamed"}, headers=member.headers)
    stale = await api.client.get(url, headers={**member.headers, "If-None-Match": '"v1"'})
    assert assert_success(stale)["title"] == "Renamed"
    assert stale.headers["etag"] == '"v2"'


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
async def test_stale_if_match_is_412_and_the_write_is_not_applied(api: Api, member: Member, method: str) -> None:
    project = await api.create_project(member, title="Original")
    url = f"{PROJECTS}/{project['id']}"
    await api.client.patch(url, json={"description": "bump"}, headers=member.headers)  # now v2
    events = api.event_count()

    headers = {**member.headers, "If-Match": '"v1"'}
    if method == "delete":
        response = await api.client.delete(url, headers=headers)
    else:
        response = await api.client.request(method.upper(), url, json={"title": "Overwritten"}, headers=headers)

    assert_error(response, 412, "precondition_failed")
    stored = await api.stored_project(project["id"])
    assert stored.title == "Original"
    assert stored.version == 2
    assert api.event_count() == events


async def test_current_if_match_applies_the_write(api: Api, member: Member) -> None:
    project = await api.create_project(member)
    url = f"{PROJECTS}/{project['id']}"

    response = await api.client.patch(url, json={"title": "Next"}, headers={**member.headers, "If-Match": '"v1"'})

    assert assert_success(response)["title"] == "Next"
    deleted = await api.client.delete(url, headers={**member.headers, "If-Match": '"v2"'})
    assert_success(deleted)


async def test_if_match_that_names_no_version_is_412(api: Api, member: Member) -> None:
    project = await api.create_project(member, title="Kept")

    response = await api.client.patch(
        f"{PROJECTS}/{project['id']}", json={"title": "Lost"}, headers={**member.headers, "If-Match": "garbage"}
    )

    assert_error(response, 412, "precondition_failed")
    assert (await api.stored_project(project["id"])).title == "Kept"


# --- bad input: nothing stored -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.title"),
        ({"description": "no title"}, "body.title"),
        ({"title": ""}, "body.title"),
        ({"title": "   "}, "body.title"),
        ({"title": "x" * 201}, "body.title"),
        ({"title": 42}, "body.title"),
        ({"title": None}, "body.title"),
        ({"title": "ok", "visibility": "secret"}, "body.visibility"),
        ({"title": "ok", "description": "d" * 10_001}, "body.description"),
        ({"title": "ok", "finish_date": "tomorrow"}, "body.finish_date"),
        ({"title": "ok", "site": {"lat": 91}}, "body.site.lat"),
        ({"title": "ok", "site": {"lon": -181}}, "body.site.lon"),
        ({"title": "ok", "site": {"city": "Lyon"}}, "body.site.city"),
        ({"title": "ok", "owner_id": "someone-else"}, "body.owner_id"),
        ({"title": "ok", "progress": 50}, "body.progress"),
        ({"title": "ok", "id": "chosen-id"}, "body.id"),
        ({"title": "ok", "version": 7}, "body.version"),
        ({"title": "ok", "created_at": "2020-01-01T00:00:00Z"}, "body.created_at"),
    ],
)
async def test_invalid_project_is_422_naming_the_field_and_stores_nothing(
    api: Api, member: Member, body: dict[str, Any], field: str
) -> None:
    events = api.event_count()

    response = await api.client.post(PROJECTS, json=body, headers=member.headers)

    assert_error(response, 422, "validation_error", field=field)
    assert await api.stored_projects() == []
    assert api.event_count() == events


async def test_a_201_character_title_is_refused_and_200_accepted(api: Api, member: Member) -> None:
    refused = await api.client.post(PROJECTS, json={"title": "t" * 201}, headers=member.headers)
    accepted = await api.client.post(PROJECTS, json={"title": "t" * 200}, headers=member.headers)

    assert_error(refused, 422, "validation_error", field="body.title")
    assert assert_success(accepted, 201)["title"] == "t" * 200
    assert len(await api.stored_projects()) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"title": "ok", "owner_id": "someone-else"},
        {"title": "ok", "progress": 99},
        {"title": "ok", "id": "chosen"},
        {"title": "ok", "version": 10},
        {"visibility": "secret"},
        {"title": ""},
        {"title": "  "},
        {"title": "x" * 201},
    ],
)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_invalid_change_is_422_and_never_applied(
    api: Api, member: Member, body: dict[str, Any], method: str
) -> None:
    project = await api.create_project(member, title="Stable")
    before = await api.stored_project(project["id"])
    events = api.event_count()

    response = await api.client.request(method, f"{PROJECTS}/{project['id']}", json=body, headers=member.headers)

    assert_error(response, 422, "validation_error")
    after = await api.stored_project(project["id"])
    assert after == before
    assert after.owner_id == member.user_id
    assert after.progress == 0
    assert api.event_count() == events


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b'{"title": "unterminated', "application/json"),
        (b"{'title': 'single quotes'}", "application/json"),
        (b"title=form", "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
    ],
)
async def test_malformed_json_is_400_and_stores_nothing(
    api: Api, member: Member, raw: bytes, content_type: str
) -> None:
    response = await api.client.post(PROJECTS, content=raw, headers={**member.headers, "Content-Type": content_type})

    assert_error(response, 400, "malformed_request")
    assert await api.stored_projects() == []


@pytest.mark.parametrize("raw", [b"", b"   ", b"null", b"[]", b'"title"', b"42"])
async def test_empty_or_non_object_body_is_refused_and_stores_nothing(api: Api, member: Member, raw: bytes) -> None:
    response = await api.client.post(
        PROJECTS, content=raw, headers={**member.headers, "Content-Type": "application/json"}
    )

    assert_error(response, 422, "validation_error", field="body")
    assert await api.stored_projects() == []


async def test_a_body_over_the_limit_is_413_and_stores_nothing(api: Api, member: Member) -> None:
    limit = api.container.settings.request_max_body_bytes
    body = b'{"title": "big", "description": "' + b"x" * limit + b'"}'

    response = await api.client.post(
        PROJECTS, content=body, headers={**member.headers, "Content-Type": "application/json"}
    )

    assert_error(response, 413, "payload_too_large")
    assert await api.stored_projects() == []


async def test_a_guest_cannot_create_a_project(api: Api) -> None:
    guest = await api.member(roles=frozenset({Role.GUEST}))

    response = await api.client.post(PROJECTS, json={"title": "Not mine to make"}, headers=guest.headers)

    assert_error(response, 403, "forbidden")
    assert await api.stored_projects() == []


@pytest.mark.parametrize(
    "project_id",
    ["does-not-exist", "%00", "%2e%2e", "a" * 5000, "%F0%9F%92%A9", "' OR 1=1 --", "%7B%22%24ne%22%3A1%7D"],
)
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_unknown_or_ill_formed_id_is_404(api: Api, member: Member, project_id: str, method: str) -> None:
    await api.create_project(member, title="Untouched")
    body = {"title": "changed"} if method in ("PUT", "PATCH") else None

    response = await api.client.request(method, f"{PROJECTS}/{project_id}", json=body, headers=member.headers)

    assert_error(response, 404, "not_found")
    assert [p.title for p in await api.stored_projects()] == ["Untouched"]


async def test_ill_formed_id_on_the_tasks_route_is_404(api: Api, member: Member) -> None:
    for project_id in ("nope", "%00", "b" * 3000):
        listed = await api.client.get(f"{PROJECTS}/{project_id}/tasks", headers=member.headers)
        created = await api.client.post(f"{PROJECTS}/{project_id}/tasks", json={"title": "t"}, headers=member.headers)
        assert_error(listed, 404, "not_found")
        assert_error(created, 404, "not_found")


# --- visibility and ownership --------------------------------------------------------------


async def test_another_members_personal_project_does_not_exist_for_me(api: Api, member: Member, other: Member) -> None:
    secret = await api.create_project(other, title="Secret", visibility="personal")
    await api.create_task(other, secret["id"], title="hidden task")
    mine = await api.create_project(member, title="Mine")
    url = f"{PROJECTS}/{secret['id']}"

    assert_error(await api.client.get(url, headers=member.headers), 404, "not_found")
    assert_error(await api.client.get(f"{url}/tasks", headers=member.headers), 404, "not_found")
    assert_error(await api.client.put(url, json={"title": "x"}, headers=member.headers), 404, "not_found")
    assert_error(await api.client.patch(url, json={"title": "x"}, headers=member.headers), 404, "not_found")
    assert_error(await api.client.delete(url, headers=member.headers), 404, "not_found")
    created = await api.client.post(f"{url}/tasks", json={"title": "x"}, headers=member.headers)
    assert_error(created, 404, "not_found")

    listed = await api.client.get(PROJECTS, headers=member.headers)
    assert [p["id"] for p in assert_success(listed)] == [mine["id"]]
    assert listed.json()["meta"]["total"] == 1
    searched = await api.client.get(PROJECTS, params={"q": "Secret"}, headers=member.headers)
    assert searched.json()["meta"]["total"] == 0
    filtered = await api.client.get(PROJECTS, params={"visibility": "personal"}, headers=member.headers)
    assert [p["id"] for p in filtered.json()["data"]] == [mine["id"]]

    stored = await api.stored_project(secret["id"])
    assert stored.title == "Secret"
    assert len(await api.stored_tasks(secret["id"])) == 1


async def test_another_members_public_project_is_readable_but_not_changeable(
    api: Api, member: Member, other: Member
) -> None:
    public = await api.create_project(other, title="Shared", visibility="public")
    task = await api.create_task(other, public["id"], title="shared task", progress=10)
    url = f"{PROJECTS}/{public['id']}"
    events = api.event_count()

    assert assert_success(await api.client.get(url, headers=member.headers))["title"] == "Shared"
    tasks = assert_success(await api.client.get(f"{url}/tasks", headers=member.headers))
    assert [t["id"] for t in tasks] == [task["id"]]
    listed = await api.client.get(PROJECTS, headers=member.headers)
    assert listed.json()["meta"]["total"] == 1

    assert_error(await api.client.put(url, json={"title": "Mine now"}, headers=member.headers), 403, "forbidden")
    assert_error(await api.client.patch(url, json={"title": "Mine now"}, headers=member.headers), 403, "forbidden")
    assert_error(await api.client.delete(url, headers=member.headers), 403, "forbidden")
    new_task = await api.client.post(f"{url}/tasks", json={"title": "sneaky"}, headers=member.headers)
    assert_error(new_task, 403, "forbidden")

    stored = await api.stored_project(public["id"])
    assert stored.title == "Shared"
    assert stored.version == (await api.stored_project(public["id"])).version
    assert [t.title for t in await api.stored_tasks(public["id"])] == ["shared task"]
    assert api.event_count() == events


async def test_an_admin_sees_and_changes_everything(api: Api, member: Member) -> None:
    secret = await api.create_project(member, title="Personal", visibility="personal")
    admin = await api.admin()

    listed = await api.client.get(PROJECTS, headers=admin.headers)
    assert [p["id"] for p in assert_success(listed)] == [secret["id"]]
    patched = await api.client.patch(f"{PROJECTS}/{secret['id']}", json={"title": "Audited"}, headers=admin.headers)
    assert assert_success(patched)["title"] == "Audited"
    assert assert_success(patched)["owner_id"] == member.user_id


async def test_a_guest_reads_public_projects_only(api: Api, member: Member) -> None:
    public = await api.create_project(member, title="Open", visibility="public")
    await api.create_project(member, title="Closed", visibility="personal")
    guest = await api.member(roles=frozenset({Role.GUEST}))

    listed = await api.client.get(PROJECTS, headers=guest.headers)

    assert [p["id"] for p in assert_success(listed)] == [public["id"]]
    assert listed.json()["meta"]["total"] == 1
    patched = await api.client.patch(f"{PROJECTS}/{public['id']}", json={"title": "x"}, headers=guest.headers)
    assert_error(patched, 403, "forbidden")
