"""API5:2023 Broken Function Level Authorization.

The admin operations are found in the OpenAPI document (their summaries say "(admin)"), so a new
one is attacked without editing this file. Each is called by a member and by a guest (403
``forbidden``, nothing changed), anonymously (401 with ``WWW-Authenticate``), with a member's token
whose payload claims ``admin`` (401: roles come from the signed token and the stored user), and by
an admin (not refused: the control that shows the route works). Guests, who may create nothing,
try every create route (403, nothing stored); members try to give themselves admin.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from domain.identity import Role
from tests.integration.http.helpers import Api, Member, assert_error
from tests.security.estate import CSV, PNG, until
from tests.security.openapi import admin_operations

pytestmark = pytest.mark.asyncio(loop_scope="module")

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/api/v1/users/{user_id}"): {"json": {"roles": ["admin", "member"]}},
}


@dataclass(slots=True)
class Cast:
    api: Api
    admin: Member
    member: Member
    guest: Member
    ids: dict[str, str]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cast(module_api: Api) -> AsyncIterator[Cast]:
    api = module_api
    admin, member = await api.admin(), await api.member()
    guest = await api.member(roles=frozenset({Role.GUEST}))
    project = await api.create_project(member)
    job = await api.client.post(
        f"/api/v1/projects/{project['id']}/import", files={"file": ("e.csv", b"", "text/csv")}, headers=member.headers
    )
    assert job.status_code == 202, job.text
    job_id = job.json()["data"]["id"]

    async def failed() -> bool:
        state = (await api.client.get(f"/api/v1/jobs/{job_id}", headers=member.headers)).json()["data"]["state"]
        return bool(state == "failed")

    await until(failed, "the empty import failing")  # a dead letter, for the retry route
    bystander = await api.member()  # the account the admin routes are aimed at
    yield Cast(api, admin, member, guest, {"user_id": bystander.user_id, "job_id": job_id})


async def test_the_document_names_the_admin_routes() -> None:
    assert set(admin_operations()) >= {
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/users/{user_id}"),
        ("PATCH", "/api/v1/users/{user_id}"),
        ("GET", "/api/v1/jobs"),
        ("POST", "/api/v1/jobs/{job_id}/retry"),
    }


def url(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace(f"{{{name}}}", value)
    assert "{" not in path, f"no id for {path}: add one to the cast"
    return path


def forged_admin(member: Member) -> str:
    header, payload, signature = member.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    edited = base64.urlsafe_b64encode(json.dumps({**claims, "roles": ["admin"]}).encode()).rstrip(b"=").decode()
    return f"{header}.{edited}.{signature}"


async def snapshot(cast: Cast) -> Any:
    users = await cast.api.client.get("/api/v1/users?size=100", headers=cast.admin.headers)
    job = await cast.api.client.get(f"/api/v1/jobs/{cast.ids['job_id']}", headers=cast.admin.headers)
    return users.json()["data"], job.json()["data"]


@pytest.mark.parametrize(("method", "path"), admin_operations(), ids=str)
async def test_member_and_guest_are_refused_on_admin_routes(cast: Cast, method: str, path: str) -> None:
    before, target = await snapshot(cast), url(path, cast.ids)
    spec = BODIES.get((method, path), {})
    for who in (cast.member, cast.guest):
        response = await cast.api.client.request(method, target, headers=who.headers, **spec)
        assert_error(response, 403, "forbidden")
    # on one's own account too: a member cannot make themselves admin
    if path == "/api/v1/users/{user_id}" and method == "PATCH":
        own = url(path, {"user_id": cast.member.user_id})
        selfish = await cast.api.client.request(method, own, headers=cast.member.headers, **spec)
        assert_error(selfish, 403, "forbidden")
    assert await snapshot(cast) == before


@pytest.mark.parametrize(("method", "path"), admin_operations(), ids=str)
async def test_anonymous_and_forged_admin_claims_are_401(cast: Cast, method: str, path: str) -> None:
    before, target = await snapshot(cast), url(path, cast.ids)
    spec = BODIES.get((method, path), {})
    for headers in ({}, {"Authorization": f"Bearer {forged_admin(cast.member)}"}):
        response = await cast.api.client.request(method, target, headers=headers, **spec)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert await snapshot(cast) == before


@pytest.mark.parametrize(("method", "path"), admin_operations(), ids=str)
async def test_an_admin_is_let_through(cast: Cast, method: str, path: str) -> None:
    """The control: the same request as an admin is not refused (so the 403s above are the guard's)."""
    spec = BODIES.get((method, path), {})
    if method == "PATCH":
        spec = {"json": {"active": True}}  # changes nothing
    response = await cast.api.client.request(method, url(path, cast.ids), headers=cast.admin.headers, **spec)
    assert response.status_code in (200, 202), response.text


GUEST_CREATES: dict[str, dict[str, Any]] = {
    "/api/v1/projects": {"json": {"title": "guest project"}},
    "/api/v1/posts": {"json": {"title": "guest post", "body": "b"}},
    "/api/v1/collections": {"json": {"name": "guest collection"}},
    "/api/v1/files": {"files": {"file": ("g.png", PNG, "image/png")}},
    "/api/v1/files/uploads": {"json": {"name": "g.png", "size": 10}},
}


@pytest.mark.parametrize("path", sorted(GUEST_CREATES))
async def test_a_guest_creates_nothing(cast: Cast, path: str) -> None:
    events = cast.api.event_count()
    response = await cast.api.client.post(path, headers=cast.guest.headers, **GUEST_CREATES[path])
    assert_error(response, 403, "forbidden")
    assert cast.api.event_count() == events


async def test_a_guest_cannot_change_a_public_project_or_import_into_it(cast: Cast) -> None:
    project = await cast.api.create_project(cast.member, visibility="public", title="Public")
    h = cast.guest.headers
    attempts = [
        await cast.api.client.patch(f"/api/v1/projects/{project['id']}", json={"title": "g"}, headers=h),
        await cast.api.client.post(f"/api/v1/projects/{project['id']}/tasks", json={"title": "g"}, headers=h),
        await cast.api.client.post(
            f"/api/v1/projects/{project['id']}/import", files={"file": ("t.csv", CSV, "text/csv")}, headers=h
        ),
        await cast.api.client.delete(f"/api/v1/projects/{project['id']}", headers=h),
    ]
    assert [a.status_code for a in attempts] == [403] * 4
    assert (await cast.api.stored_project(project["id"])).title == "Public"
