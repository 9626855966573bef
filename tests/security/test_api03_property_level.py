"""API3:2023 Broken Object Property Level Authorization.

Mass assignment: every JSON write operation in the OpenAPI document (so a new one is covered
without editing this file) gets a valid body plus one property the server owns (``owner_id``,
``id``, ``roles``, ``progress`` of a project, ``created_at``, ``deleted_at``, ``version`` …) that its
model does not accept: 422 ``validation_error`` naming the field, and nothing stored or changed.
The same in nested objects and in multipart forms.

Excessive exposure: a walk over the responses a member and an admin get (sign-up, login, token
check, every object kind, lists, errors) finds no password hash, no internal field and no other
user's e-mail.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from tests.integration.http.helpers import Api, Member, assert_error
from tests.security.estate import PNG, Estate
from tests.security.openapi import document, operations

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: properties the server owns; offered to every write model that does not accept them
SERVER_OWNED: dict[str, Any] = {
    "id": "chosen-id",
    "owner_id": "someone-else",
    "author_id": "someone-else",
    "user_id": "someone-else",
    "roles": ["admin"],
    "role": "admin",
    "is_admin": True,
    "admin": True,
    "active": True,
    "email_verified": True,
    "password_hash": "$argon2id$v=19$m=64,t=1,p=1$AAAA$AAAA",
    "progress": 100,
    "completed": True,
    "created_at": "2000-01-01T00:00:00Z",
    "updated_at": "2000-01-01T00:00:00Z",
    "deleted_at": "2000-01-01T00:00:00Z",
    "version": 99,
    "analysis": {"status": "done", "sentiment": "positive"},
    "sha256": "0" * 64,
    "storage_key": "../../etc/passwd",
    "state": "succeeded",
    "_id": "x",
    "__proto__": {"admin": True},
}

#: a valid body per JSON write operation ({...} names are filled from the scene)
VALID: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/auth/signup"): {
        "email": "{fresh_email}",
        "password": "a long enough passphrase",
        "display_name": "N",
    },
    ("POST", "/api/v1/auth/login"): {"email": "{member_email}", "password": "correct horse battery staple"},
    ("POST", "/api/v1/auth/refresh"): {"refresh_token": "{refresh_token}"},
    ("POST", "/api/v1/auth/logout"): {"refresh_token": "{refresh_token}"},
    ("POST", "/api/v1/projects"): {"title": "t"},
    ("PUT", "/api/v1/projects/{project_id}"): {"title": "t"},
    ("PATCH", "/api/v1/projects/{project_id}"): {"title": "t"},
    ("POST", "/api/v1/projects/{project_id}/tasks"): {"title": "t"},
    ("PUT", "/api/v1/tasks/{task_id}"): {"title": "t"},
    ("PATCH", "/api/v1/tasks/{task_id}"): {"title": "t"},
    ("POST", "/api/v1/posts"): {"title": "t", "body": "b"},
    ("PATCH", "/api/v1/posts/{post_id}"): {"title": "t"},
    ("POST", "/api/v1/collections"): {"name": "n"},
    ("PATCH", "/api/v1/collections/{collection_id}"): {"name": "n"},
    ("POST", "/api/v1/collections/{collection_id}/posts"): {"post_id": "{post_id}"},
    ("PATCH", "/api/v1/users/{user_id}"): {"active": True},
    ("POST", "/api/v1/files/uploads"): {"name": "a.png", "size": 10},
    ("POST", "/api/v1/analysis/text"): {"text": "hello"},
}


def json_writes() -> list[tuple[str, str]]:
    return sorted(
        op for op, spec in operations().items() if "application/json" in spec.get("requestBody", {}).get("content", {})
    )


def accepted_fields(method: str, path: str) -> set[str]:
    ref = operations()[(method, path)]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document()["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return set(schema.get("properties", {}))


def owned_fields(method: str, path: str) -> list[str]:
    """The server-owned properties this operation's model does not accept (all of them, mostly)."""
    return [field for field in SERVER_OWNED if field not in accepted_fields(method, path)]


@dataclass(slots=True)
class Scene:
    api: Api
    admin: Member
    estate: Estate
    other: Member


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scene(module_api: Api) -> AsyncIterator[Scene]:
    admin, victim, other = await module_api.admin(), await module_api.member(), await module_api.member()
    yield Scene(module_api, admin, await Estate.build(module_api, victim), other)


def fill(value: Any, names: dict[str, str]) -> Any:
    text = json.dumps(value)
    for name, replacement in names.items():
        text = text.replace(f"{{{name}}}", replacement)
    return json.loads(text)


async def test_every_json_write_has_a_valid_body_here() -> None:
    missing = [op for op in json_writes() if op not in VALID]
    assert missing == [], f"new write operations: give them a valid body in VALID {missing}"


@pytest.mark.parametrize(("method", "path"), json_writes(), ids=str)
async def test_server_owned_properties_are_refused(scene: Scene, method: str, path: str) -> None:
    """One request per property (each alone), so each refusal is that property's."""
    api, estate = scene.api, scene.estate
    who = scene.admin if path.startswith("/api/v1/users") else estate.owner
    before, events = await estate.snapshot(api), api.event_count()
    fields = owned_fields(method, path)
    assert len(fields) >= len(SERVER_OWNED) - 3

    for field in fields:
        names = {
            **estate.ids,
            "fresh_email": f"fresh-{len(field)}-{method.lower()}@example.com",
            "member_email": estate.owner.email,
            "refresh_token": estate.owner.refresh_token,
        }
        url = fill(path, names) if "{" in path else path
        body = {**fill(VALID[(method, path)], names), field: SERVER_OWNED[field]}
        response = await api.client.request(method, url, json=body, headers=who.headers)
        assert_error(response, 422, "validation_error", f"body.{field}")
        assert await api.stored_user(names["fresh_email"]) is None

    assert await estate.snapshot(api) == before
    assert api.event_count() == events


@pytest.mark.parametrize(
    "site",
    [{"place": "Oslo", "owner_id": "x"}, {"lat": 1.0, "lon": 2.0, "weather": {"risk": "none"}}],
)
async def test_nested_objects_refuse_unknown_properties(scene: Scene, site: dict[str, Any]) -> None:
    response = await scene.api.client.post(
        "/api/v1/projects", json={"title": "nested", "site": site}, headers=scene.other.headers
    )
    assert response.status_code == 422, response.text
    assert [p for p in await scene.api.stored_projects() if p.title == "nested"] == []


async def test_a_multipart_upload_cannot_choose_its_owner_or_checksum(scene: Scene) -> None:
    api, events = scene.api, scene.api.event_count()
    response = await api.client.post(
        "/api/v1/files",
        data={"owner_id": scene.estate.owner.user_id, "sha256": "0" * 64},
        files={"file": ("p.png", PNG, "image/png")},
        headers=scene.other.headers,
    )
    assert_error(response, 422, "validation_error")
    assert api.event_count() == events


# --- excessive data exposure ----------------------------------------------------------------------

FORBIDDEN_KEYS = re.compile(
    r'"(password|password_hash|hash|hashed_password|salt|deleted_at|storage_key|blob_key|tokens_revoked_before|'
    r'revoked_before|family|family_id|secret|client_secret|identities|external_identities|_id|__\w+)"\s*:'
)


async def collected_responses(scene: Scene) -> dict[str, tuple[Member | None, str]]:
    """(who asked, body) per request: a member's, another member's and an admin's view of everything."""
    api, estate, ids = scene.api, scene.estate, scene.estate.ids
    owner, other, admin = estate.owner, scene.other, scene.admin
    requests: list[tuple[Member | None, str, str, dict[str, Any] | None]] = [
        (
            None,
            "POST",
            "/api/v1/auth/signup",
            {"email": "walk@example.com", "password": "a long enough passphrase", "display_name": "Walker"},
        ),
        (None, "POST", "/api/v1/auth/login", {"email": owner.email, "password": "correct horse battery staple"}),
        (owner, "GET", "/api/v1/auth/me", None),
        (owner, "GET", "/api/v1/auth/verify", None),
        (owner, "GET", "/api/v1/projects?size=100", None),
        (owner, "GET", f"/api/v1/projects/{ids['project_id']}", None),
        (owner, "GET", f"/api/v1/projects/{ids['project_id']}/tasks", None),
        (owner, "GET", f"/api/v1/projects/{ids['project_id']}/export?format=json", None),
        (owner, "GET", f"/api/v1/tasks/{ids['task_id']}", None),
        (owner, "GET", "/api/v1/posts", None),
        (owner, "GET", f"/api/v1/posts/{ids['post_id']}", None),
        (owner, "GET", "/api/v1/collections", None),
        (owner, "GET", f"/api/v1/collections/{ids['collection_id']}", None),
        (owner, "GET", f"/api/v1/files/{ids['file_id']}", None),
        (owner, "GET", f"/api/v1/files/uploads/{ids['upload_id']}", None),
        (owner, "GET", f"/api/v1/jobs/{ids['job_id']}", None),
        (owner, "GET", "/api/v1/analytics", None),
        (other, "GET", "/api/v1/projects?size=100", None),
        (other, "GET", f"/api/v1/projects/{estate.public_project}", None),
        (other, "GET", f"/api/v1/projects/{estate.public_project}/tasks", None),
        (other, "GET", "/api/v1/posts", None),
        (other, "GET", f"/api/v1/users/{owner.user_id}", None),
        (other, "GET", f"/api/v1/projects/{ids['project_id']}", None),
        (admin, "GET", "/api/v1/users?size=100", None),
        (admin, "GET", f"/api/v1/users/{owner.user_id}", None),
        (admin, "GET", "/api/v1/jobs", None),
        (None, "POST", "/api/v1/auth/login", {"email": owner.email, "password": "wrong password entirely"}),
        (
            None,
            "POST",
            "/api/v1/auth/signup",
            {"email": owner.email, "password": "a long enough passphrase", "display_name": "Dup"},
        ),
    ]
    seen: dict[str, tuple[Member | None, str]] = {}
    for who, method, path, body in requests:
        response = await api.client.request(method, path, json=body, headers=who.headers if who else {})
        assert response.status_code < 500, (path, response.text)
        seen[f"{method} {path} as {who.email if who else 'anonymous'} ({response.status_code})"] = (who, response.text)
    return seen


async def test_no_response_carries_a_hash_or_an_internal_field(scene: Scene) -> None:
    leaks = []
    for name, (_, text) in (await collected_responses(scene)).items():
        if "$argon2" in text or "$2b$" in text or FORBIDDEN_KEYS.search(text):
            leaks.append((name, text[:300]))
    assert leaks == []


async def test_members_never_see_other_users_emails(scene: Scene) -> None:
    emails = {scene.estate.owner.email, scene.other.email, scene.admin.email, "walk@example.com"}
    leaks = []
    for name, (who, text) in (await collected_responses(scene)).items():
        if who is scene.admin:
            continue  # admins administer accounts: they see e-mails
        mine = {who.email} if who is not None else set()
        if "signup" in name and "(201)" in name:
            mine.add("walk@example.com")  # the sign-up answers the new account itself
        leaked = {e for e in emails - mine if e in text}
        if leaked:
            leaks.append((name, leaked))
    assert leaks == []
