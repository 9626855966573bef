"""API1:2023 Broken Object Level Authorization.

Every route with an object id in its path, enumerated from the app's route table (so a route
added later is attacked without editing this file), is called by another member with the ids of
the victim's objects: a personal project, its task, a post on it, a collection, a file, a
resumable upload, an import job, the victim's account. Each call must answer 404 (the object does
not exist for the attacker; 403 only on the admin-only routes, where the design says so), leak
nothing of the object, and leave everything as it was. Write bodies are valid, so a refusal is the
authorisation's and not the validator's. Further attacks carry the victim's ids in bodies, forms
and query strings (attach a file to the victim's task, post on the victim's project, put the
victim's post in one's own collection), change the victim's public project, and read lists.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from tests.integration.http.helpers import Api, Member, assert_error
from tests.integration.ws.conftest import live_server, nothing_more, subscribe
from tests.security.conftest import SUITE_ENV, suite_app
from tests.security.estate import CSV, PNG, Estate, http_operations

#: path parameters that name something other than an object a user owns
NOT_OBJECTS = {"provider", "path"}
PART = b"x" * 16
PART_HEADERS = {"Content-Digest": "sha-256=:" + base64.b64encode(hashlib.sha256(PART).digest()).decode() + ":"}

#: a valid request per write route: the attack must reach the authorisation check
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/api/v1/projects/{project_id}"): {"json": {"title": "pwned"}},
    ("PATCH", "/api/v1/projects/{project_id}"): {"json": {"title": "pwned", "visibility": "public"}},
    ("POST", "/api/v1/projects/{project_id}/tasks"): {"json": {"title": "planted"}},
    ("POST", "/api/v1/projects/{project_id}/import"): {"files": {"file": ("t.csv", CSV, "text/csv")}},
    ("PUT", "/api/v1/tasks/{task_id}"): {"json": {"title": "pwned", "progress": 100}},
    ("PATCH", "/api/v1/tasks/{task_id}"): {"json": {"progress": 100}},
    ("PATCH", "/api/v1/posts/{post_id}"): {"json": {"title": "pwned"}},
    ("PATCH", "/api/v1/collections/{collection_id}"): {"json": {"name": "pwned"}},
    ("POST", "/api/v1/collections/{collection_id}/posts"): {"json": {"post_id": "ATTACKER_POST"}},
    ("PATCH", "/api/v1/users/{user_id}"): {"json": {"active": False}},
    ("PUT", "/api/v1/files/uploads/{upload_id}/parts/{number}"): {"content": PART, "headers": PART_HEADERS},
}
#: routes only admins may use at all: a member is refused before any object is looked at
ADMIN_ONLY = {
    ("GET", "/api/v1/users/{user_id}"),
    ("PATCH", "/api/v1/users/{user_id}"),
    ("POST", "/api/v1/jobs/{job_id}/retry"),
}
QUERIES = {("GET", "/api/v1/projects/{project_id}/export"): "?format=json"}

# One victim estate for the module (building it costs about a second): every test attacks it and
# shows it unchanged afterwards, so one attack that got through cannot hide behind another.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass(slots=True)
class Scene:
    api: Api
    estate: Estate
    attacker: Member
    own_post: str
    own_collection: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scene(module_api: Api) -> AsyncIterator[Scene]:
    victim, attacker = await module_api.member(), await module_api.member()
    estate = await Estate.build(module_api, victim)
    c, h = module_api.client, attacker.headers
    post = await c.post("/api/v1/posts", json={"title": "mine", "body": "mine"}, headers=h)
    collection = await c.post("/api/v1/collections", json={"name": "mine"}, headers=h)
    assert post.status_code == collection.status_code == 201
    yield Scene(module_api, estate, attacker, post.json()["data"]["id"], collection.json()["data"]["id"])


def id_routes() -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path in http_operations(suite_app())
        if "{" in path and path.startswith("/api/") and not any(f"{{{p}}}" in path for p in NOT_OBJECTS)
    ]


def fill(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace(f"{{{name}}}", value)
    assert "{" not in path, f"no victim object for a parameter of {path}: add its kind to Estate"
    return path


def request_for(method: str, path: str, own_post: str) -> dict[str, Any]:
    spec = dict(BODIES.get((method, path), {}))
    bodiless = path.endswith(("/complete", "/retry"))
    if method in ("POST", "PUT", "PATCH") and (method, path) not in BODIES and not bodiless:
        pytest.fail(f"{method} {path} is new: give it a valid body in BODIES so the attack reaches authorisation")
    if spec.get("json") == {"post_id": "ATTACKER_POST"}:
        spec["json"] = {"post_id": own_post}
    return spec


def assert_nothing_leaked(response: Any, estate: Estate) -> None:
    for secret in estate.titles:
        assert secret not in response.text, f"{secret!r} leaked: {response.text}"


async def test_the_route_table_has_id_routes_of_every_kind() -> None:
    """The enumeration works: it finds the routes the design lists (and more may come)."""
    routes = id_routes()
    for expected in [
        ("GET", "/api/v1/projects/{project_id}"),
        ("DELETE", "/api/v1/tasks/{task_id}"),
        ("GET", "/api/v1/files/{file_id}/content"),
        ("DELETE", "/api/v1/collections/{collection_id}/posts/{post_id}"),
        ("GET", "/api/v1/jobs/{job_id}"),
        ("PATCH", "/api/v1/users/{user_id}"),
    ]:
        assert expected in routes
    assert len(routes) >= 25


@pytest.mark.parametrize(("method", "path"), id_routes(), ids=lambda v: str(v))
async def test_another_member_cannot_reach_the_victims_object(scene: Scene, method: str, path: str) -> None:
    api, estate, attacker = scene.api, scene.estate, scene.attacker
    spec = request_for(method, path, scene.own_post)
    before, events = await estate.snapshot(api), api.event_count()
    url = fill(path, estate.ids) + QUERIES.get((method, path), "")
    headers = {**spec.pop("headers", {}), **attacker.headers}

    response = await api.client.request(method, url, headers=headers, **spec)

    if (method, path) in ADMIN_ONLY:
        assert_error(response, 403, "forbidden")
    else:
        assert_error(response, 404, "not_found")
    assert_nothing_leaked(response, estate)
    assert await estate.snapshot(api) == before
    assert api.event_count() == events


PUBLIC_WRITES = [
    (method, path)
    for method, path in id_routes()
    if method != "GET" and path.startswith(("/api/v1/projects/{project_id}", "/api/v1/tasks/{task_id}"))
]


@pytest.mark.parametrize(("method", "path"), PUBLIC_WRITES, ids=lambda v: str(v))
async def test_another_member_cannot_change_the_victims_public_project(scene: Scene, method: str, path: str) -> None:
    """Public projects are readable by every member; only their owner changes them (403: it is visible)."""
    api, estate, attacker = scene.api, scene.estate, scene.attacker
    spec = request_for(method, path, "")
    before, events = await estate.snapshot(api), api.event_count()
    url = fill(path, {"project_id": estate.public_project, "task_id": estate.public_task})

    response = await api.client.request(method, url, headers={**spec.pop("headers", {}), **attacker.headers}, **spec)

    assert_error(response, 403, "forbidden")
    assert await estate.snapshot(api) == before
    assert api.event_count() == events


async def test_victims_ids_in_bodies_forms_and_queries_are_refused(scene: Scene) -> None:
    api, estate, own_collection = scene.api, scene.estate, scene.own_collection
    ids, h, c = estate.ids, scene.attacker.headers, api.client
    before, events = await estate.snapshot(api), api.event_count()
    png = {"file": ("a.png", PNG, "image/png")}

    def attacks(project: str, task: str, post: str) -> dict[str, Any]:
        """Requests that carry ids; called with the victim's and with ids that exist nowhere."""
        return {
            "post on the project": (
                "POST",
                "/api/v1/posts",
                {"json": {"title": "t", "body": "b", "project_id": project}},
            ),
            "attach a file to the task": ("POST", "/api/v1/files", {"data": {"task_id": task}, "files": png}),
            "attach a file to the post": ("POST", "/api/v1/files", {"data": {"post_id": post}, "files": png}),
            "upload onto the task": (
                "POST",
                "/api/v1/files/uploads",
                {"json": {"name": "a.png", "size": 9, "task_id": task}},
            ),
            "upload onto the post": (
                "POST",
                "/api/v1/files/uploads",
                {"json": {"name": "a.png", "size": 9, "post_id": post}},
            ),
            "collect the post": ("POST", f"/api/v1/collections/{own_collection}/posts", {"json": {"post_id": post}}),
            "list posts of the project": ("GET", f"/api/v1/posts?project_id={project}", {}),
        }

    victims = attacks(ids["project_id"], ids["task_id"], ids["post_id"])
    nowhere = attacks("no-such-project", "no-such-task", "no-such-post")
    for name, (method, path, spec) in victims.items():
        response = await c.request(method, path, headers=h, **spec)
        assert response.status_code in (404, 422), (name, response.text)
        assert_nothing_leaked(response, estate)
        # no oracle: the victim's object is refused exactly as one that does not exist
        method, path, spec = nowhere[name]
        missing = await c.request(method, path, headers=h, **spec)
        assert response.status_code == missing.status_code, name
        mine, theirs = response.json()["error"], missing.json()["error"]
        assert (mine["code"], mine["message"]) == (theirs["code"], theirs["message"]), name
    mine = await c.get(f"/api/v1/collections/{own_collection}", headers=h)
    assert ids["post_id"] not in mine.text
    assert await estate.snapshot(api) == before
    assert api.event_count() == events


@pytest.mark.parametrize("path", ["/api/v1/projects", "/api/v1/posts", "/api/v1/collections"])
async def test_lists_never_show_the_victims_private_objects(scene: Scene, path: str) -> None:
    estate = scene.estate
    response = await scene.api.client.get(f"{path}?size=100", headers=scene.attacker.headers)
    assert response.status_code == 200
    assert_nothing_leaked(response, estate)
    listed = {item["id"] for item in response.json()["data"]}
    assert not listed & set(estate.ids.values())
    assert response.json()["meta"]["total"] == len(listed)


async def test_another_members_live_channels_are_refused() -> None:
    """The websocket is an object route too: the victim's private project and user channels."""
    async with live_server(**SUITE_ENV) as live:
        victim, attacker = await live.api.member(), await live.api.member()
        project = await live.api.create_project(victim, title="Victim secret live project")
        async with live.socket(attacker) as ws:
            for channel in (
                f"project:{project['id']}",
                f"user:{victim.user_id}",
                f"PROJECT:{project['id']}",
                f"project:{project['id']} ",
                "project:*",
                "user:*",
                "project:",
            ):
                reply = await subscribe(ws, channel)
                assert reply == {"type": "error", "code": "forbidden_channel", "channel": channel}, reply
            changed = await live.api.client.patch(
                f"/api/v1/projects/{project['id']}", json={"title": "Victim secret, renamed"}, headers=victim.headers
            )
            assert changed.status_code == 200
            await nothing_more(ws, 0.5)
