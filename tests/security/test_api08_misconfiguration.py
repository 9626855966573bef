"""API8:2023 Security Misconfiguration.

Security headers on every kind of response (success, each error status, a crash, the docs, the
OpenAPI document, health, metrics, a file download, a CORS preflight); CORS that refuses every
origin it was not given (look-alike domains, ``null``, another scheme) and never allows
credentials or a wildcard; debug off (a crash inside a use case answers the generic 500 envelope
with a request id, never a trace, a path or the exception's text); and production refusing to
start on each unsafe default, naming the variable to set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar

from entrypoints.bootstrap import bootstrap
from entrypoints.settings import SettingsError, load_settings
from tests.integration.http.helpers import Api, api_on, assert_error, assert_no_internals
from tests.security.conftest import SUITE_ENV, ApiFactory
from tests.security.estate import PNG

API_HEADERS = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}
SECRET = "/srv/trellis/secret_module.py: password=hunter2"
TRUSTED = "https://board.example.com"


class Exploding:
    """A use case that fails the way a bug does, with internals in its message."""

    def __getattr__(self, name: str) -> Any:
        async def boom(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(SECRET)

        return boom


@pytest.fixture
async def crashing(app: Litestar) -> AsyncIterator[Api]:
    """The app whose project and post services raise (no never-a-500 guard: a 500 is the point)."""
    async with api_on(app, **SUITE_ENV) as value:
        yield value


async def kinds_of_response(api: Api) -> dict[str, Any]:
    member = await api.member()
    h, c = member.headers, api.client
    project = await api.create_project(member)
    task = await api.create_task(member, project["id"])
    file = await c.post(
        "/api/v1/files", data={"task_id": task["id"]}, files={"file": ("p.png", PNG, "image/png")}, headers=h
    )
    etag = (await c.get(f"/api/v1/projects/{project['id']}", headers=h)).headers["etag"]
    return {
        "200 json": await c.get("/api/v1/projects", headers=h),
        "201 json": await c.post("/api/v1/projects", json={"title": "t"}, headers=h),
        "304": await c.get(f"/api/v1/projects/{project['id']}", headers={**h, "If-None-Match": etag}),
        "400 malformed": await c.post(
            "/api/v1/projects", content=b"{not json", headers={**h, "Content-Type": "application/json"}
        ),
        "401": await c.get("/api/v1/projects"),
        "403": await c.get("/api/v1/users", headers=h),
        "404 unknown route": await c.get("/nowhere"),
        "404 unknown object": await c.get("/api/v1/projects/nope", headers=h),
        "405": await c.delete("/api/v1/projects", headers=h),
        "413": await c.post("/api/v1/projects", content=b"x" * (2 * 1024 * 1024), headers=h),
        "415": await c.post("/api/v1/projects", content=b"title=t", headers={**h, "Content-Type": "text/plain"}),
        "422": await c.post("/api/v1/projects", json={"title": ""}, headers=h),
        "file download": await c.get(file.json()["data"]["download_url"], headers=h),
        "docs": await c.get("/docs"),
        "openapi": await c.get("/openapi.json"),
        "health": await c.get("/health"),
        "metrics": await c.get("/metrics"),
        "options": await c.options("/api/v1/projects"),
    }


async def test_every_kind_of_response_carries_the_security_headers(api: Api) -> None:
    responses = await kinds_of_response(api)
    assert responses["413"].status_code == 413
    assert responses["304"].status_code == 304
    missing = {}
    for name, response in responses.items():
        for header, value in API_HEADERS.items():
            if header == "content-security-policy" and name == "docs":
                assert "script-src" in response.headers[header]
                assert "'unsafe-eval'" not in response.headers[header]
                continue
            if response.headers.get(header) != value:
                missing.setdefault(name, []).append(header)
        assert response.headers.get("x-request-id"), name
    assert missing == {}


async def test_a_file_download_cannot_be_rendered_as_a_page(api: Api) -> None:
    response = (await kinds_of_response(api))["file download"]
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("attachment")


async def test_token_responses_are_never_cached(api: Api) -> None:
    member = await api.member()
    login = await api.login(member.email)
    refresh = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": member.refresh_token})
    for response in (login, refresh):
        assert "no-store" in response.headers["cache-control"]
    me = await api.client.get("/api/v1/auth/me", headers=member.headers)
    assert "private" in me.headers["cache-control"] or "no-store" in me.headers["cache-control"]


async def test_a_crash_answers_the_generic_envelope_and_nothing_else(crashing: Api) -> None:
    member = await crashing.member()
    crashing.container.projects = Exploding()  # type: ignore[assignment]
    crashing.container.posts = Exploding()  # type: ignore[assignment]
    for path in ("/api/v1/projects", "/api/v1/posts", "/api/v1/projects/x"):
        response = await crashing.client.get(path, headers=member.headers)
        error = assert_error(response, 500, "internal_error")
        assert_no_internals(response)
        assert "hunter2" not in response.text
        assert "RuntimeError" not in response.text
        assert error["request_id"] in error["message"]
        for header, value in API_HEADERS.items():
            assert response.headers.get(header) == value


def test_debug_is_off(app: Litestar) -> None:
    assert app.debug is False


# --- CORS ---------------------------------------------------------------------------------------


@pytest.fixture
async def cors_api(served_with: ApiFactory) -> AsyncIterator[Api]:
    async with served_with(CORS_ALLOWED_ORIGINS=TRUSTED) as value:
        yield value


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "DELETE",
        "Access-Control-Request-Headers": "authorization",
    }


HOSTILE_ORIGINS = [
    "https://evil.example",
    "https://board.example.com.evil.example",
    "https://evilboard.example.com",
    "https://evil.example/https://board.example.com",
    "http://board.example.com",
    "https://board.example.com:8443",
    "null",
    "*",
    "",
]


async def test_cors_refuses_every_other_origin(cors_api: Api) -> None:
    member = await cors_api.member()
    for origin in HOSTILE_ORIGINS:
        response = await cors_api.client.options("/api/v1/projects", headers=preflight(origin))
        assert "access-control-allow-origin" not in response.headers, origin
        simple = await cors_api.client.get("/api/v1/projects", headers={**member.headers, "Origin": origin})
        assert simple.status_code == 200
        assert "access-control-allow-origin" not in simple.headers, origin
        assert "access-control-allow-credentials" not in simple.headers


async def test_cors_allows_the_trusted_origin_exactly_and_without_credentials(cors_api: Api) -> None:
    response = await cors_api.client.options("/api/v1/projects", headers=preflight(TRUSTED))
    assert response.headers["access-control-allow-origin"] == TRUSTED
    assert "access-control-allow-credentials" not in response.headers
    assert "*" not in response.headers.get("access-control-allow-methods", "")


# --- production refusals ------------------------------------------------------------------------

PRODUCTION = {
    "APP_ENV": "production",
    "MONGODB_URL": "mongodb://127.0.0.1:1/trellis",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "JWT_PRIVATE_KEY": "set below",
    "REFRESH_TOKEN_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "CORS_ALLOWED_ORIGINS": TRUSTED,
}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"MONGODB_URL": ""}, "MONGODB_URL"),
        ({"REDIS_URL": ""}, "REDIS_URL"),
        ({"JWT_PRIVATE_KEY": ""}, "JWT_PRIVATE_KEY"),
        ({"REFRESH_TOKEN_KEY": ""}, "REFRESH_TOKEN_KEY"),
        ({"CORS_ALLOWED_ORIGINS": ""}, "CORS_ALLOWED_ORIGINS"),
        ({"CORS_ALLOWED_ORIGINS": "*"}, "CORS_ALLOWED_ORIGINS"),
        ({"CORS_ALLOWED_ORIGINS": f"{TRUSTED},*"}, "CORS_ALLOWED_ORIGINS"),
        ({"OIDC_X_ISSUER": "http://idp.example.com", "OIDC_X_CLIENT_ID": "c", "OIDC_X_CLIENT_SECRET": "s"}, "ISSUER"),
        ({"OIDC_X_ISSUER": "https://idp.example.com", "OIDC_X_CLIENT_ID": "c"}, "CLIENT_SECRET"),
    ],
)
async def test_production_refuses_each_unsafe_default(change: dict[str, str], named: str) -> None:
    from tests.security.conftest import SERVICE_PEM

    env = {**PRODUCTION, "JWT_PRIVATE_KEY": SERVICE_PEM, **change}
    settings = load_settings({k: v for k, v in env.items() if v}, dotenv=None)
    with pytest.raises(SettingsError, match=named):
        await bootstrap(settings)
