"""API6:2023 Unrestricted Access to Sensitive Business Flows.

The flows worth automating against Trellis are account creation (spam accounts) and sign-in
(credential stuffing, password spraying). With the production defaults (``RATE_LIMIT_AUTH`` 10 per
minute per client address for sign-up, login and refresh together), scripted sign-ups and logins
hit 429 with ``Retry-After`` and create nothing; spraying many accounts from one address is limited
as much as hammering one; forged ``X-Forwarded-For`` entries do not buy new budgets; the ordinary
API keeps its own budget. Checked on the in-process counters and on a real Redis. The flows also
give nothing away for free: the same 401 for a wrong password and an unknown e-mail, and weak
passwords refused.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.http.helpers import PASSWORD, Api, assert_error
from tests.security.conftest import ApiFactory
from tests.support.redis import redis_url

AUTH_LIMIT = 10  # the production default, RATE_LIMIT_AUTH=10/minute


def new_ip() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def email() -> str:
    return f"flow-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.real_service)])
async def limited(request: pytest.FixtureRequest, served_with: ApiFactory) -> AsyncIterator[Api]:
    """Production's auth limit; the client address from a trusted proxy header, so each test
    has buckets of its own even on a shared Redis."""
    settings = {"RATE_LIMIT_AUTH": "10/minute", "TRUSTED_PROXY_HEADER": "X-Forwarded-For"}
    if request.param == "redis":
        settings["REDIS_URL"] = redis_url()
    async with served_with(**settings) as value:
        yield value


async def signup(api: Api, ip: str, address: str | None = None) -> Any:
    body = {"email": address or email(), "password": PASSWORD, "display_name": "Bot"}
    return await api.client.post("/api/v1/auth/signup", json=body, headers={"X-Forwarded-For": ip})


async def login(api: Api, ip: str, address: str, password: str = PASSWORD) -> Any:
    body = {"email": address, "password": password}
    return await api.client.post("/api/v1/auth/login", json=body, headers={"X-Forwarded-For": ip})


async def test_scripted_signups_are_stopped_and_create_nothing(limited: Api) -> None:
    ip = new_ip()
    statuses = [(await signup(limited, ip)).status_code for _ in range(AUTH_LIMIT)]
    assert statuses == [201] * AUTH_LIMIT
    late = email()
    refused = await signup(limited, ip, late)
    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert await limited.stored_user(late) is None
    # another address is not affected
    assert (await signup(limited, new_ip())).status_code == 201


async def test_password_spraying_across_accounts_is_limited_per_address(limited: Api) -> None:
    ip = new_ip()
    statuses = [(await login(limited, ip, email(), "Winter2024!spray")).status_code for _ in range(AUTH_LIMIT + 3)]
    assert statuses == [401] * AUTH_LIMIT + [429] * 3


async def test_signup_login_and_refresh_share_one_budget(limited: Api) -> None:
    ip = new_ip()
    address = email()
    assert (await signup(limited, ip, address)).status_code == 201
    tokens = (await login(limited, ip, address)).json()["data"]
    for _ in range(AUTH_LIMIT - 3):  # other accounts: this one's own 5-failure lock is not the point here
        assert (await login(limited, ip, email(), "not the password at all")).status_code == 401
    refreshed = await limited.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}, headers={"X-Forwarded-For": ip}
    )
    assert refreshed.status_code in (200, 429)  # the 10th auth request of this address
    assert_error(await login(limited, ip, address), 429, "rate_limited")
    # the ordinary API keeps its own budget
    me = await limited.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}", "X-Forwarded-For": ip}
    )
    assert me.status_code == 200


async def test_forged_forwarding_entries_do_not_buy_new_budgets(limited: Api) -> None:
    real = new_ip()
    statuses = [
        (await login(limited, f"{new_ip()}, {new_ip()}, {real}", email(), "guess guess guess")).status_code
        for _ in range(AUTH_LIMIT + 1)
    ]
    assert statuses[-1] == 429, statuses  # only the right-most address, the proxy's, counts


async def test_an_untrusted_forwarding_header_is_ignored(served_with: ApiFactory) -> None:
    async with served_with(RATE_LIMIT_AUTH="10/minute") as api:  # no trusted proxy: the socket address counts
        statuses = [
            (await login(api, new_ip(), email(), "guess guess guess")).status_code for _ in range(AUTH_LIMIT + 1)
        ]
        assert statuses == [401] * AUTH_LIMIT + [429]


async def test_login_does_not_tell_which_accounts_exist(api: Api) -> None:
    member = await api.member()
    wrong_password = await api.login(member.email, "not the right password")
    unknown = await api.login(email(), "not the right password")
    a, b = assert_error(wrong_password, 401, "invalid_credentials"), assert_error(unknown, 401, "invalid_credentials")
    assert a["message"] == b["message"]
    assert wrong_password.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")


@pytest.mark.parametrize(
    "password", ["short", "password1234", "123456789012", "{local}-{local}-{local}", "aaaaaaaaaaaa"]
)
async def test_weak_passwords_are_refused(api: Api, password: str) -> None:
    address = email()
    weak = password.replace("{local}", address.split("@")[0])
    response = await api.client.post(
        "/api/v1/auth/signup", json={"email": address, "password": weak, "display_name": "W"}
    )
    assert response.status_code == 422, response.text
    assert await api.stored_user(address) is None
