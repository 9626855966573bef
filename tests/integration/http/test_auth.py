"""Accounts through HTTP: sign-up, login, me, verify — and every way to get them wrong."""

from __future__ import annotations

import pytest

from domain.identity import Role
from domain.paging import PageRequest
from tests.integration.http.helpers import PASSWORD, Api, Member, assert_error, assert_success


async def test_signup_answers_201_with_location_and_never_the_hash(api: Api) -> None:
    response = await api.signup("Ada@Example.com", name="Ada")

    user = assert_success(response, 201)
    assert response.headers["location"] == "/api/v1/auth/me"
    assert user["email"] == "ada@example.com"
    assert user["display_name"] == "Ada"
    assert user["roles"] == ["member"]
    assert user["active"] is True
    assert not {"password", "password_hash"} & set(user)
    assert "argon2" not in response.text
    stored = await api.stored_user("ada@example.com")
    assert stored is not None
    assert stored.id == user["id"]


async def test_login_me_and_verify(api: Api) -> None:
    await api.signup("grace@example.com", name="Grace")

    login = await api.login("GRACE@example.com")
    tokens = assert_success(login)
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    assert tokens["access_token"].count(".") == 2
    assert tokens["refresh_token"]
    assert "no-store" in login.headers["cache-control"]
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    me = assert_success(await api.client.get("/api/v1/auth/me", headers=headers))
    assert me["email"] == "grace@example.com"

    verified = assert_success(await api.client.get("/api/v1/auth/verify", headers=headers))
    assert verified["active"] is True
    assert verified["subject"] == me["id"]
    assert verified["roles"] == ["member"]
    assert verified["user"]["email"] == "grace@example.com"


@pytest.mark.parametrize("second", ["dup@example.com", "DUP@Example.COM", "  dup@example.com  "])
async def test_duplicate_email_is_409_email_taken(api: Api, second: str) -> None:
    assert (await api.signup("dup@example.com")).status_code == 201
    events = api.event_count()

    response = await api.signup(second, password="another long passphrase 42")

    assert_error(response, 409, "email_taken")
    assert api.event_count() == events
    page = await api.container.ports.uow.users.list(PageRequest(size=100))
    assert [u.email for u in page.items] == ["dup@example.com"]


@pytest.mark.parametrize(
    "password",
    [
        "short1!",  # under 12 characters
        "password1234",  # common
        "aaaaaaaaaaaaaaaa",  # trivial
        "weakling-weakling-2024",  # contains the e-mail's local part
    ],
)
async def test_weak_password_is_422_naming_the_password(api: Api, password: str) -> None:
    response = await api.signup("weakling@example.com", password=password)

    error = assert_error(response, 422, "weak_password", field="body.password")
    assert password not in response.text
    assert error["details"][0]["message"]
    assert await api.stored_user("weakling@example.com") is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD, "display_name": "X"}, "body.email"),
        ({"email": "not-an-email", "password": PASSWORD, "display_name": "X"}, "body.email"),
        ({"email": "x@example.com", "display_name": "X"}, "body.password"),
        ({"email": "x@example.com", "password": PASSWORD, "display_name": "   "}, "body.display_name"),
        ({"email": "x@example.com", "password": PASSWORD, "display_name": "X", "roles": ["admin"]}, "body.roles"),
        ({"email": "x@example.com", "password": PASSWORD, "display_name": "X", "id": "mine"}, "body.id"),
    ],
)
async def test_bad_signup_is_422_and_stores_nothing(api: Api, body: dict[str, object], field: str) -> None:
    response = await api.client.post("/api/v1/auth/signup", json=body)

    assert_error(response, 422, "validation_error", field=field)
    assert await api.stored_user("x@example.com") is None
    assert api.event_count() == 0


async def test_wrong_password_and_unknown_email_get_the_same_401(api: Api) -> None:
    await api.signup("known@example.com")

    wrong = await api.login("known@example.com", "not the right password at all")
    unknown = await api.login("nobody@example.com", PASSWORD)

    wrong_error = assert_error(wrong, 401, "invalid_credentials")
    unknown_error = assert_error(unknown, 401, "invalid_credentials")
    assert wrong_error["message"] == unknown_error["message"]
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    assert "access_token" not in wrong.text


async def test_me_reports_current_roles(api: Api, member: Member) -> None:
    await api.set_roles(member.user_id, frozenset({Role.GUEST}))

    me = assert_success(await api.client.get("/api/v1/auth/me", headers=member.headers))

    assert me["roles"] == ["guest"]
