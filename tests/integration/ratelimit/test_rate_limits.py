"""Rate limits through HTTP: headers, 429 with Retry-After, per principal / per IP, the auth limit,
the window reset, the trusted proxy header, and the login brute-force rule."""

from __future__ import annotations

import asyncio
import uuid

from tests.integration.cache.conftest import served
from tests.integration.http.helpers import PASSWORD, assert_error, assert_success
from tests.integration.ratelimit.conftest import AppFactory


def new_ip() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


async def test_limited_responses_carry_headers_and_the_429_says_when_to_retry(app_with: AppFactory) -> None:
    async with app_with(RATE_LIMIT_DEFAULT="3/minute") as api:
        member, other = await api.member(), await api.member()
        for remaining in (2, 1, 0):
            response = await api.client.get("/api/v1/projects", headers=member.headers)
            assert_success(response)
            assert response.headers["RateLimit-Limit"] == "3"
            assert response.headers["RateLimit-Remaining"] == str(remaining)
            assert 0 < int(response.headers["RateLimit-Reset"]) <= 60
        refused = await api.client.get("/api/v1/projects", headers=member.headers)
        assert_error(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["RateLimit-Remaining"] == "0"
        # per principal: another user has a budget of their own
        assert_success(await api.client.get("/api/v1/projects", headers=other.headers))


async def test_auth_routes_have_the_stricter_limit_and_the_window_resets(app_with: AppFactory) -> None:
    ip = new_ip()
    async with app_with(RATE_LIMIT_AUTH="2/second", TRUSTED_PROXY_HEADER="X-Forwarded-For") as api:
        body = {"email": "nobody@example.com", "password": "wrong password here"}
        headers = {"X-Forwarded-For": f"203.0.113.9, {ip}"}
        for _ in range(2):
            response = await api.client.post("/api/v1/auth/login", json=body, headers=headers)
            assert response.status_code == 401
            assert response.headers["RateLimit-Limit"] == "2"
        refused = await api.client.post("/api/v1/auth/login", json=body, headers=headers)
        assert_error(refused, 429, "rate_limited")
        # another client address (the right-most one of the trusted header) is not affected
        other = await api.client.post("/api/v1/auth/login", json=body, headers={"X-Forwarded-For": f"{ip}, {new_ip()}"})
        assert other.status_code == 401
        await asyncio.sleep(1.1)
        again = await api.client.post("/api/v1/auth/login", json=body, headers=headers)
        assert again.status_code == 401, "the window moved on"


async def test_the_proxy_header_is_ignored_unless_trusted() -> None:
    # Which address a request counts against is decided by the middleware, whatever stores the
    # counters; in-process storage keeps this test's bucket (the test client's address) its own.
    async with served(RATE_LIMIT_AUTH="2/minute") as api:
        body = {"email": "nobody@example.com", "password": "wrong password here"}
        for _ in range(2):
            await api.client.post("/api/v1/auth/login", json=body, headers={"X-Forwarded-For": new_ip()})
        refused = await api.client.post("/api/v1/auth/login", json=body, headers={"X-Forwarded-For": new_ip()})
        assert_error(refused, 429, "rate_limited")


async def test_five_failed_logins_lock_the_account_from_any_ip(app_with: AppFactory) -> None:
    async with app_with(RATE_LIMIT_AUTH="1000/minute", TRUSTED_PROXY_HEADER="X-Forwarded-For") as api:
        member = await api.member(email=f"victim-{uuid.uuid4().hex[:8]}@example.com")
        wrong = {"email": member.email, "password": "not the password at all"}
        for _ in range(5):
            response = await api.client.post("/api/v1/auth/login", json=wrong, headers={"X-Forwarded-For": new_ip()})
            assert_error(response, 401, "invalid_credentials")
        right = {"email": member.email, "password": PASSWORD}
        locked = await api.client.post("/api/v1/auth/login", json=right, headers={"X-Forwarded-For": new_ip()})
        assert_error(locked, 429, "rate_limited")
        assert int(locked.headers["Retry-After"]) > 60
        # another account is not locked
        assert (await api.login((await api.member()).email)).status_code == 200
