"""OIDC sign-in end to end against a real OpenID provider (oidc-provider-mock) on a loopback port.

The browser is played by two clients: the test client on our app (it keeps the state cookie)
and a plain httpx client that posts the provider's sign-in form.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.clock import FixedClock
from domain.identity import Role
from entrypoints.bootstrap import bootstrap
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.integration.http.helpers import Api, assert_error, assert_success, make_settings
from tests.integration.identity.oidc_mock import TOKEN_MAX_AGE, MockProvider, mock_provider

pytestmark = pytest.mark.real_service

CLIENT_ID = "trellis-test"
LOGIN = "/api/v1/auth/oidc/mock/login"
CALLBACK = "/api/v1/auth/oidc/mock/callback"


@pytest.fixture(scope="module")
def provider() -> Iterator[MockProvider]:
    with mock_provider() as running:
        yield running


def oidc_settings(issuer: str) -> Settings:
    return make_settings(
        OIDC_MOCK_ISSUER=issuer,
        OIDC_MOCK_CLIENT_ID=CLIENT_ID,
        OIDC_MOCK_CLIENT_SECRET="mock-secret",
        OIDC_MOCK_REDIRECT_URI=f"http://testserver.local{CALLBACK}",
    )


@pytest.fixture(scope="module")
def oidc_app(provider: MockProvider) -> Litestar:
    return create_app(oidc_settings(provider.issuer))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC))


@pytest.fixture
async def api(oidc_app: Litestar, provider: MockProvider, clock: FixedClock) -> AsyncIterator[Api]:
    container = await bootstrap(oidc_settings(provider.issuer), clock=clock)
    try:
        async with AsyncTestClient(oidc_app) as client:
            oidc_app.state.container = container
            yield Api(client=client, container=container)
    finally:
        await container.close()


def new_sub() -> str:
    return f"sub-{uuid.uuid4().hex[:12]}"


async def sign_in_at_provider(location: str, sub: str) -> str:
    """Post the provider's sign-in form as ``sub``; the redirect back to our callback (path?query)."""
    async with httpx.AsyncClient(timeout=10) as browser:
        response = await browser.post(location, data={"sub": sub})
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["location"])
    assert back.path == CALLBACK
    return f"{back.path}?{back.query}"


async def start(api: Api) -> str:
    response = await api.client.get(LOGIN, follow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def full_flow(api: Api, sub: str, tamper: Callable[[str], str] | None = None) -> httpx.Response:
    location = await start(api)
    callback = await sign_in_at_provider(tamper(location) if tamper else location, sub)
    return await api.client.get(callback)


def with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query[name] = value
    return parts._replace(query=urlencode(query)).geturl()


async def user_count(api: Api) -> int:
    from domain.paging import PageRequest

    return (await api.container.ports.uow.users.list(PageRequest(size=1))).total


# --- the login redirect -------------------------------------------------------------------


async def test_login_redirects_with_pkce_state_nonce_and_a_locked_down_cookie(api: Api, provider: MockProvider) -> None:
    response = await api.client.get(LOGIN, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == provider.issuer
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == f"http://testserver.local{CALLBACK}"
    assert set(query["scope"].split()) >= {"openid", "email"}
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32
    assert len(query["nonce"]) >= 32
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/api/v1/auth/oidc" in cookie
    assert query["state"].lower() in cookie  # the cookie binds this browser to this state
    assert query["nonce"].lower() not in cookie  # nonce and PKCE verifier never leave the server
    assert response.headers["cache-control"] == "no-store"
    again = await api.client.get(LOGIN, follow_redirects=False)
    assert parse_qs(urlsplit(again.headers["location"]).query)["state"][0] != query["state"]


async def test_unknown_provider_is_404(api: Api) -> None:
    assert_error(await api.client.get("/api/v1/auth/oidc/nope/login"), 404, "not_found")
    assert_error(await api.client.get("/api/v1/auth/oidc/nope/callback?code=x&state=y"), 404, "not_found")


# --- happy paths and linking --------------------------------------------------------------


async def test_first_sign_in_creates_a_member_and_returns_our_tokens(api: Api, provider: MockProvider) -> None:
    sub = new_sub()
    provider.set_user(sub, email=f"{sub}@example.com", email_verified=True, name="Ada Lovelace")
    response = await full_flow(api, sub)
    tokens = assert_success(response)
    assert tokens["token_type"] == "bearer"
    assert response.headers["cache-control"] == "no-store"
    assert 'trellis_oidc=""' in response.headers["set-cookie"] or "max-age=0" in response.headers["set-cookie"].lower()
    me = assert_success(
        await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    )
    assert me["email"] == f"{sub}@example.com"
    assert me["display_name"] == "Ada Lovelace"
    assert me["roles"] == ["member"]
    stored = await api.stored_user(me["email"])
    assert stored is not None
    assert stored.password_hash is None
    assert [(i.issuer, i.subject) for i in stored.identities] == [(provider.issuer, sub)]
    # our refresh token works like any other
    refreshed = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    # signing in again finds the same user by issuer + subject, even if the e-mail changed
    provider.set_user(sub, email=f"new-{sub}@example.com", email_verified=True)
    second = assert_success(await full_flow(api, sub))
    me_again = assert_success(
        await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    )
    assert me_again["id"] == me["id"]
    assert await user_count(api) == 1


async def test_verified_email_links_to_the_existing_account(api: Api, provider: MockProvider) -> None:
    local = await api.member(email="linked@example.com")
    sub = new_sub()
    provider.set_user(sub, email="Linked@Example.com", email_verified=True)
    tokens = assert_success(await full_flow(api, sub))
    me = assert_success(
        await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    )
    assert me["id"] == local.user_id
    stored = await api.stored_user("linked@example.com")
    assert stored is not None
    assert [i.subject for i in stored.identities] == [sub]
    assert stored.password_hash is not None  # the password still works too
    assert (await api.login("linked@example.com")).status_code == 200


async def test_unverified_email_never_takes_over_an_existing_account(api: Api, provider: MockProvider) -> None:
    await api.member(email="victim@example.com")
    sub = new_sub()
    provider.set_user(sub, email="victim@example.com", email_verified=False)
    assert_error(await full_flow(api, sub), 409, "email_taken")
    stored = await api.stored_user("victim@example.com")
    assert stored is not None
    assert stored.identities == ()
    # no claim at all is the same as unverified
    other = new_sub()
    provider.set_user(other, email="victim@example.com")
    assert_error(await full_flow(api, other), 409, "email_taken")


async def test_deactivated_linked_user_cannot_sign_in(api: Api, provider: MockProvider) -> None:
    sub = new_sub()
    provider.set_user(sub, email=f"{sub}@example.com", email_verified=True)
    assert_success(await full_flow(api, sub))
    user = await api.stored_user(f"{sub}@example.com")
    assert user is not None
    admin = await api.admin()
    await api.client.patch(f"/api/v1/users/{user.id}", json={"active": False}, headers=admin.headers)
    assert_error(await full_flow(api, sub), 401, "oidc_login_failed")


# --- refusals -----------------------------------------------------------------------------


async def test_wrong_or_missing_state_is_refused_and_creates_nothing(api: Api, provider: MockProvider) -> None:
    sub = new_sub()
    provider.set_user(sub, email=f"{sub}@example.com", email_verified=True)
    location = await start(api)
    callback = await sign_in_at_provider(location, sub)
    forged = with_param(callback, "state", "attacker-chosen-state-value-0123456789")
    assert_error(await api.client.get(forged), 401, "oidc_state_invalid")
    # the right state from another browser (no state cookie) is refused too: login CSRF
    saved = dict(api.client.cookies)
    api.client.cookies.clear()
    assert_error(await api.client.get(callback), 401, "oidc_state_invalid")
    # ... and so is a forged cookie
    api.client.cookies.set("trellis_oidc", "mock.x.9999999999.bad", domain="testserver.local")
    assert_error(await api.client.get(callback), 401, "oidc_state_invalid")
    api.client.cookies.clear()
    for name, value in saved.items():
        api.client.cookies.set(name, value, domain="testserver.local", path="/api/v1/auth/oidc")
    assert await user_count(api) == 0
    # the untouched callback still works: nothing above burnt the code
    assert_success(await api.client.get(callback))


async def test_state_cookie_expires(api: Api, provider: MockProvider, clock: FixedClock) -> None:
    sub = new_sub()
    provider.set_user(sub, email=f"{sub}@example.com", email_verified=True)
    location = await start(api)
    callback = await sign_in_at_provider(location, sub)
    clock.advance(601)
    assert_error(await api.client.get(callback), 401, "oidc_state_invalid")


async def test_replayed_code_with_the_original_cookie_is_refused_by_the_provider(
    api: Api, provider: MockProvider
) -> None:
    sub = new_sub()
    provider.set_user(sub, email=f"{sub}@example.com", email_verified=True)
    location = await start(api)
    cookie = api.client.cookies.get("trellis_oidc")
    callback = await sign_in_at_provider(location, sub)
    assert_success(await api.client.get(callback))
    api.client.cookies.set("trellis_oidc", cookie or "", domain="testserver.local", path="/api/v1/auth/oidc")
    assert_error(await api.client.get(callback), 401, "oidc_login_failed")
    assert await user_count(api) == 1


async def test_wrong_nonce_is_refused(api: Api, provider: MockProvider) -> None:
    sub = new_sub()
    provider.set_user(sub, email=f"{sub}@example.com", email_verified=True)
    response = await full_flow(api, sub, tamper=lambda url: with_param(url, "nonce", "a-nonce-we-never-issued-0123456"))
    error = assert_error(response, 401, "oidc_login_failed")
    assert "nonce" in error["message"]
    assert await user_count(api) == 0


async def test_expired_id_token_is_refused(api: Api, provider: MockProvider, clock: FixedClock) -> None:
    sub = new_sub()
    provider.set_user(sub, email=f"{sub}@example.com", email_verified=True)
    location = await start(api)
    callback = await sign_in_at_provider(location, sub)
    clock.advance(TOKEN_MAX_AGE + 61 + 5)  # past exp and the 60 s leeway, within the state's 10 minutes
    error = assert_error(await api.client.get(callback), 401, "oidc_login_failed")
    assert "expired" in error["message"]
    assert await user_count(api) == 0


async def test_provider_error_is_reported_without_echoing_markup(api: Api) -> None:
    location = await start(api)
    state = parse_qs(urlsplit(location).query)["state"][0]
    response = await api.client.get(f"{CALLBACK}?state={state}&error=access_denied")
    error = assert_error(response, 401, "oidc_login_failed")
    assert "access_denied" in error["message"]
    odd = await api.client.get(f"{CALLBACK}?state={state}&error=%3Cscript%3E")
    assert "<script>" not in odd.text


async def test_basic_credentials_never_sign_anyone_in_on_the_callback(api: Api) -> None:
    import base64

    member = await api.member()
    basic = base64.b64encode(f"{member.email}:correct horse battery staple".encode()).decode()
    response = await api.client.get(f"{CALLBACK}?code=x&state=y", headers={"Authorization": f"Basic {basic}"})
    assert_error(response, 401, "oidc_state_invalid")
    bearer = await api.client.get(f"{CALLBACK}?code=x&state=y", headers=member.headers)
    assert_error(bearer, 401, "oidc_state_invalid")


async def test_roles_for_new_oidc_users_are_member_only(api: Api, provider: MockProvider) -> None:
    sub = new_sub()
    provider.set_user(sub, email=f"{sub}@example.com", email_verified=True, roles=["admin"], groups=["admin"])
    assert_success(await full_flow(api, sub))
    stored = await api.stored_user(f"{sub}@example.com")
    assert stored is not None
    assert stored.roles == frozenset({Role.MEMBER})


# --- provider down ------------------------------------------------------------------------


async def test_provider_down_is_503_and_nothing_is_created(clock: FixedClock) -> None:
    with mock_provider() as doomed:
        settings = oidc_settings(doomed.issuer)
        container = await bootstrap(settings, clock=clock)
        app = create_app(settings, container=container)
        try:
            async with AsyncTestClient(app) as client:
                api = Api(client=client, container=container)
                sub = new_sub()
                doomed.set_user(sub, email=f"{sub}@example.com", email_verified=True)
                location = await start(api)
                callback = await sign_in_at_provider(location, sub)
                doomed.stop()  # dies between the redirect back and the code exchange
                response = await client.get(callback)
                assert_error(response, 503, "identity_provider_unavailable")
                assert response.headers["retry-after"]
                assert await user_count(api) == 0
        finally:
            await container.close()
    # a provider that was never reachable: the login redirect itself answers 503
    settings = oidc_settings("http://127.0.0.1:9")  # discard port: nothing listens
    container = await bootstrap(settings, clock=clock)
    app = create_app(settings, container=container)
    try:
        async with AsyncTestClient(app) as client:
            assert_error(await client.get(LOGIN, follow_redirects=False), 503, "identity_provider_unavailable")
    finally:
        await container.close()
