"""Revoking tokens before they expire, through HTTP.

- ``POST /auth/logout-all`` sets the user's cutoff: every access and refresh token issued
  before it gets 401 (refresh refused, its family revoked); a login afterwards works.
- Deactivation (admin ``PATCH active=false``) sets the same cutoff, so a refresh token issued
  before it stays dead after a reactivation, even if it was never presented meanwhile.
- ``POST /auth/logout`` with the access token as bearer revokes that token by its ``jti``.

The cutoff is compared at whole seconds (tokens carry whole-second ``iat``), rounding the
cutoff down; ``test_the_cutoff_rounds_down_to_the_second`` pins that rule. A ``FixedClock``
started on a whole second of the wall clock (refresh families expire by the wall clock) makes
the seconds deterministic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient

from adapters.memory.clock import FixedClock, SystemClock
from entrypoints.http.app import create_app
from tests.integration.http.helpers import (
    Api,
    Member,
    assert_error,
    assert_success,
    auth,
    make_settings,
    running_api,
)
from tests.support.redis import redis_url

ME = "/api/v1/auth/me"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
LOGOUT_ALL = "/api/v1/auth/logout-all"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(SystemClock().now().replace(microsecond=0))


@pytest.fixture
async def api(clock: FixedClock) -> AsyncIterator[Api]:
    async with running_api(clock=clock) as value:
        yield value


async def _session(api: Api, who: Member) -> tuple[str, str]:
    """Another login of the same user (another device): its access and refresh tokens."""
    data = assert_success(await api.login(who.email))
    return data["access_token"], data["refresh_token"]


async def _refresh(api: Api, refresh_token: str) -> tuple[int, dict[str, str] | None]:
    response = await api.client.post(REFRESH, json={"refresh_token": refresh_token})
    return response.status_code, (response.json()["data"] if response.status_code == 200 else None)


async def test_logout_all_kills_every_earlier_token_and_a_new_login_works(api: Api, clock: FixedClock) -> None:
    laptop = await api.member()
    phone_access, phone_refresh = await _session(api, laptop)
    cutoff = clock.advance(5)

    assert_success(await api.client.post(LOGOUT_ALL, headers=laptop.headers))

    for access in (laptop.access_token, phone_access):
        assert_error(await api.client.get(ME, headers=auth(access)), 401, "invalid_token")
    for refresh in (laptop.refresh_token, phone_refresh):
        assert_error(await api.client.post(REFRESH, json={"refresh_token": refresh}), 401, "invalid_token")
    clock.advance(1)
    fresh_access, fresh_refresh = await _session(api, laptop)
    assert_success(await api.client.get(ME, headers=auth(fresh_access)))
    status, pair = await _refresh(api, fresh_refresh)
    assert status == 200
    assert pair is not None
    assert_success(await api.client.get(ME, headers=auth(pair["access_token"])))
    stored = await api.stored_user(laptop.email)
    assert stored is not None
    assert stored.tokens_valid_after == cutoff


async def test_a_refreshed_pair_from_before_the_cutoff_dies_too(api: Api, clock: FixedClock) -> None:
    who = await api.member()
    clock.advance(2)
    status, pair = await _refresh(api, who.refresh_token)
    assert status == 200
    assert pair is not None
    clock.advance(2)

    assert_success(await api.client.post(LOGOUT_ALL, headers=who.headers))

    assert_error(await api.client.get(ME, headers=auth(pair["access_token"])), 401, "invalid_token")
    assert (await _refresh(api, pair["refresh_token"]))[0] == 401


async def test_the_cutoff_rounds_down_to_the_second(api: Api, clock: FixedClock) -> None:
    """Tokens issued in the cutoff's own second stay valid, before or after it: a login right
    after logout-all always works; the caller's own token is revoked by jti regardless."""
    who = await api.member()  # issued at S.000
    clock.advance(10.2)
    same_second_before, before_refresh = await _session(api, who)  # S+10.200
    clock.advance(0.3)

    assert_success(await api.client.post(LOGOUT_ALL, headers=auth(same_second_before)))  # cutoff S+10.500

    clock.advance(0.3)
    after_access, after_refresh = await _session(api, who)  # S+10.800, the cutoff's second
    assert_success(await api.client.get(ME, headers=auth(after_access)))
    assert (await _refresh(api, after_refresh))[0] == 200
    assert_error(await api.client.get(ME, headers=who.headers), 401, "invalid_token")  # an earlier second
    # the caller's own token was also revoked by jti; its refresh token (same second) survives
    assert_error(await api.client.get(ME, headers=auth(same_second_before)), 401, "invalid_token")
    assert (await _refresh(api, before_refresh))[0] == 200


async def test_logout_all_needs_authentication(api: Api) -> None:
    assert_error(await api.client.post(LOGOUT_ALL), 401, "unauthenticated")


async def test_deactivation_kills_refresh_tokens_even_after_reactivation(api: Api, clock: FixedClock) -> None:
    admin = await api.admin()
    member = await api.member()
    clock.advance(3)
    users = f"/api/v1/users/{member.user_id}"

    assert_success(await api.client.patch(users, json={"active": False}, headers=admin.headers))
    clock.advance(1)
    assert_success(await api.client.patch(users, json={"active": True}, headers=admin.headers))

    # never presented while the account was inactive, yet refused now that it is active again
    assert_error(await api.client.post(REFRESH, json={"refresh_token": member.refresh_token}), 401, "invalid_token")
    assert_error(await api.client.get(ME, headers=member.headers), 401, "invalid_token")
    fresh_access, _ = await _session(api, member)
    assert_success(await api.client.get(ME, headers=auth(fresh_access)))
    assert_success(await api.client.get(ME, headers=admin.headers))  # nobody else is affected


async def _logout_revokes_the_bearer_by_jti(api: Api) -> None:
    who = await api.member()
    other_access, other_refresh = await _session(api, who)

    response = await api.client.post(LOGOUT, json={"refresh_token": who.refresh_token}, headers=who.headers)

    assert_success(response)
    error = assert_error(await api.client.get(ME, headers=who.headers), 401, "invalid_token")
    assert "revoked" in error["message"]
    assert_error(await api.client.get("/api/v1/auth/verify", headers=who.headers), 401, "invalid_token")
    assert_error(await api.client.post(REFRESH, json={"refresh_token": who.refresh_token}), 401, "invalid_token")
    # the other session is untouched
    assert_success(await api.client.get(ME, headers=auth(other_access)))
    assert (await _refresh(api, other_refresh))[0] == 200


async def test_logout_with_the_bearer_revokes_that_access_token(api: Api) -> None:
    await _logout_revokes_the_bearer_by_jti(api)


@pytest.mark.real_service
async def test_logout_revokes_the_bearer_in_redis_for_every_process() -> None:
    app = create_app(make_settings(REDIS_URL=redis_url(), RATE_LIMIT_AUTH="1000/minute"))
    async with AsyncTestClient(app) as client:
        await _logout_revokes_the_bearer_by_jti(Api(client=client, container=app.state.container))


async def test_logout_without_a_bearer_or_with_a_stale_one_still_revokes_the_family(
    api: Api, clock: FixedClock
) -> None:
    who = await api.member()
    assert_success(await api.client.post(LOGOUT, json={"refresh_token": who.refresh_token}))
    assert_success(await api.client.get(ME, headers=who.headers))  # no bearer sent: the access token lives on

    again = await api.member()
    clock.advance(timedelta(hours=1))  # the access token has expired; the refresh token has not
    response = await api.client.post(LOGOUT, json={"refresh_token": again.refresh_token}, headers=again.headers)
    assert_success(response)
    assert (await _refresh(api, again.refresh_token))[0] == 401
