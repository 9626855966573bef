"""HTTP Basic (e-mail + password) on API routes, for scripts."""

from __future__ import annotations

import base64

from tests.integration.http.helpers import PASSWORD, Api, Member, assert_error, assert_success


def basic(email: str, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_basic_credentials_work_on_api_routes(api: Api, member: Member) -> None:
    me = assert_success(await api.client.get("/api/v1/auth/me", headers=basic(member.email)))
    assert me["id"] == member.user_id
    created = await api.client.post("/api/v1/projects", json={"title": "by script"}, headers=basic(member.email))
    assert assert_success(created, 201)["owner_id"] == member.user_id


async def test_email_is_case_insensitive_and_password_may_contain_colons(api: Api) -> None:
    password = "with:several:colons:inside"
    created = await api.signup("scripter@example.com", password=password)
    assert created.status_code == 201
    response = await api.client.get("/api/v1/auth/me", headers=basic("Scripter@Example.com", password))
    assert assert_success(response)["email"] == "scripter@example.com"


async def test_wrong_password_unknown_email_and_malformed_are_401(api: Api, member: Member) -> None:
    wrong = await api.client.get("/api/v1/auth/me", headers=basic(member.email, "not the password!"))
    assert_error(wrong, 401, "invalid_credentials")
    unknown = await api.client.get("/api/v1/auth/me", headers=basic("nobody@example.com"))
    assert_error(unknown, 401, "invalid_credentials")
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]
    for header in ("Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode(), "Basic "):
        response = await api.client.get("/api/v1/auth/me", headers={"Authorization": header})
        assert response.status_code == 401, header


async def test_deactivated_account_cannot_use_basic(api: Api, member: Member) -> None:
    admin = await api.admin()
    await api.client.patch(f"/api/v1/users/{member.user_id}", json={"active": False}, headers=admin.headers)
    response = await api.client.get("/api/v1/auth/me", headers=basic(member.email))
    assert_error(response, 401, "invalid_credentials")


async def test_guest_over_basic_still_gets_the_guest_rules(api: Api) -> None:
    from domain.identity import Role

    guest = await api.member(roles=frozenset({Role.GUEST}))
    response = await api.client.post("/api/v1/projects", json={"title": "x"}, headers=basic(guest.email))
    assert_error(response, 403, "forbidden")


async def test_five_failures_lock_the_account_for_basic_too(api: Api, member: Member) -> None:
    for _ in range(5):
        wrong = await api.client.get("/api/v1/auth/me", headers=basic(member.email, "not the password!"))
        assert_error(wrong, 401, "invalid_credentials")
    # the sixth attempt is refused before any password check, even with the right password
    locked = await api.client.get("/api/v1/auth/me", headers=basic(member.email))
    assert_error(locked, 429, "rate_limited")
    assert int(locked.headers["retry-after"]) > 0
    # the lock is per account and shared with /auth/login; bearer tokens keep working
    assert_error(await api.login(member.email), 429, "rate_limited")
    assert (await api.client.get("/api/v1/auth/me", headers=member.headers)).status_code == 200
    other = await api.member()
    assert (await api.client.get("/api/v1/auth/me", headers=basic(other.email))).status_code == 200
