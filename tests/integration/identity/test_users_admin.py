"""Admin routes and RBAC through HTTP: /api/v1/users (list, read, PATCH roles/active)."""

from __future__ import annotations

from domain import events as ev
from domain.identity import Role
from tests.integration.http.helpers import Api, Member, assert_error, assert_success


async def test_admin_lists_users_paged_and_sorted(api: Api, admin: Member) -> None:
    for name in ("b", "a", "c"):
        await api.member(email=f"{name}-list@example.com")
    response = await api.client.get("/api/v1/users?size=2&sort=email", headers=admin.headers)
    data = assert_success(response)
    body = response.json()
    assert body["meta"] == {"page": 1, "size": 2, "total": 4, "pages": 2}
    assert [u["email"] for u in data] == ["a-list@example.com", "b-list@example.com"]
    assert 'rel="next"' in response.headers["link"]
    assert all("password_hash" not in u for u in data)
    descending = assert_success(await api.client.get("/api/v1/users?sort=-email", headers=admin.headers))
    emails = [u["email"] for u in descending]
    assert emails == sorted(emails, reverse=True)


async def test_unknown_sort_field_is_422(api: Api, admin: Member) -> None:
    response = await api.client.get("/api/v1/users?sort=password_hash", headers=admin.headers)
    assert_error(response, 422, "validation_error", field="query.sort")


async def test_member_and_guest_get_403_on_every_admin_route(api: Api, admin: Member) -> None:
    member = await api.member()
    guest = await api.member(roles=frozenset({Role.GUEST}))
    for who in (member, guest):
        assert_error(await api.client.get("/api/v1/users", headers=who.headers), 403, "forbidden")
        assert_error(await api.client.get(f"/api/v1/users/{admin.user_id}", headers=who.headers), 403, "forbidden")
        patched = await api.client.patch(f"/api/v1/users/{who.user_id}", json={"roles": ["admin"]}, headers=who.headers)
        assert_error(patched, 403, "forbidden")
    stored = await api.stored_user(member.email)
    assert stored is not None
    assert stored.roles == frozenset({Role.MEMBER})


async def test_anonymous_gets_401(api: Api) -> None:
    response = await api.client.get("/api/v1/users")
    assert_error(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_admin_reads_one_user_with_etag_and_404_for_unknown(api: Api, admin: Member, member: Member) -> None:
    response = await api.client.get(f"/api/v1/users/{member.user_id}", headers=admin.headers)
    data = assert_success(response)
    assert data["email"] == member.email
    assert response.headers["etag"].startswith('"v')
    assert_error(await api.client.get("/api/v1/users/nope", headers=admin.headers), 404, "not_found")


async def test_admin_changes_roles_and_the_change_applies_to_the_next_request(
    api: Api, admin: Member, member: Member
) -> None:
    before = api.event_count()
    response = await api.client.patch(
        f"/api/v1/users/{member.user_id}", json={"roles": ["guest"]}, headers=admin.headers
    )
    assert assert_success(response)["roles"] == ["guest"]
    # the same access token now carries a guest: creating is refused
    created = await api.client.post("/api/v1/projects", json={"title": "x"}, headers=member.headers)
    assert_error(created, 403, "forbidden")
    events = api.container.publisher.history[before:]
    assert [e.name for e in events] == [ev.USER_UPDATED]
    assert events[0].actor_id == admin.user_id
    assert events[0].data["roles"] == ["guest"]


async def test_deactivation_makes_access_and_refresh_tokens_fail_at_once(
    api: Api, admin: Member, member: Member
) -> None:
    response = await api.client.patch(f"/api/v1/users/{member.user_id}", json={"active": False}, headers=admin.headers)
    assert assert_success(response)["active"] is False
    assert_error(await api.client.get("/api/v1/auth/me", headers=member.headers), 401, "invalid_token")
    refreshed = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": member.refresh_token})
    assert_error(refreshed, 401, "invalid_token")
    assert_error(await api.login(member.email), 401, "invalid_credentials")
    # reactivated: the old refresh family stays revoked, a new login works
    await api.client.patch(f"/api/v1/users/{member.user_id}", json={"active": True}, headers=admin.headers)
    again = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": member.refresh_token})
    assert_error(again, 401, "invalid_token")
    assert (await api.login(member.email)).status_code == 200


async def test_admin_cannot_lock_themselves_out(api: Api, admin: Member) -> None:
    path = f"/api/v1/users/{admin.user_id}"
    assert_error(await api.client.patch(path, json={"roles": ["member"]}, headers=admin.headers), 409, "self_lockout")
    assert_error(await api.client.patch(path, json={"active": False}, headers=admin.headers), 409, "self_lockout")
    # keeping admin while adding another role is fine
    kept = await api.client.patch(path, json={"roles": ["admin", "member"]}, headers=admin.headers)
    assert assert_success(kept)["roles"] == ["admin", "member"]


async def test_patch_validation(api: Api, admin: Member, member: Member) -> None:
    path = f"/api/v1/users/{member.user_id}"
    assert_error(await api.client.patch(path, json={"roles": []}, headers=admin.headers), 422, "validation_error")
    assert_error(await api.client.patch(path, json={"roles": ["root"]}, headers=admin.headers), 422, "validation_error")
    assert_error(
        await api.client.patch(path, json={"email": "x@example.com"}, headers=admin.headers), 422, "validation_error"
    )
    assert_error(await api.client.patch(path, json={"active": "false"}, headers=admin.headers), 422, "validation_error")


async def test_patch_honours_if_match(api: Api, admin: Member, member: Member) -> None:
    path = f"/api/v1/users/{member.user_id}"
    etag = (await api.client.get(path, headers=admin.headers)).headers["etag"]
    ok = await api.client.patch(path, json={"roles": ["guest"]}, headers={**admin.headers, "If-Match": etag})
    assert ok.status_code == 200
    stale = await api.client.patch(path, json={"roles": ["member"]}, headers={**admin.headers, "If-Match": etag})
    assert_error(stale, 412, "precondition_failed")


def test_policy_table_admin_everything_guest_creates_nothing() -> None:
    from application.policy import Action, allowed, role_table
    from domain.identity import Principal

    rows = dict(role_table())
    assert all(row["admin"] for row in rows.values())
    assert not rows[Action.PROJECT_CREATE]["guest"]
    assert not rows[Action.CONTENT_CREATE]["guest"]
    assert rows[Action.PROJECT_CREATE]["member"]
    assert not any(rows[a]["member"] for a in (Action.USER_LIST, Action.USER_READ_ANY, Action.USER_UPDATE_ACCESS))
    # several roles: the union of what each grants
    assert allowed(Principal("u", frozenset({Role.GUEST, Role.MEMBER})), Action.PROJECT_CREATE)
    assert not allowed(Principal("u", frozenset()), Action.PROJECT_READ_PUBLIC)
