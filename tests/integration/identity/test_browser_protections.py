"""Browser-facing protections: security headers, CORS allowlist, inert markup, no operator injection."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from entrypoints.bootstrap import bootstrap
from entrypoints.http.app import create_app
from tests.integration.http.helpers import Api, Member, assert_error, assert_success, make_settings

TRUSTED = "https://board.example.com"


def assert_api_headers(headers: object) -> None:
    h = headers  # httpx.Headers
    assert h["content-security-policy"].startswith("default-src 'none'")  # type: ignore[index]
    assert "frame-ancestors 'none'" in h["content-security-policy"]  # type: ignore[index]
    assert h["x-content-type-options"] == "nosniff"  # type: ignore[index]
    assert h["x-frame-options"] == "DENY"  # type: ignore[index]
    assert h["referrer-policy"] == "no-referrer"  # type: ignore[index]


async def test_every_kind_of_response_carries_the_security_headers(api: Api, member: Member) -> None:
    responses = [
        await api.client.get("/api/v1/auth/me", headers=member.headers),  # 200
        await api.client.get("/api/v1/auth/me"),  # 401
        await api.client.get("/api/v1/no-such-route"),  # 404 from the router
        await api.client.post("/api/v1/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}),
        await api.client.get("/health"),
        await api.client.get("/openapi.json"),
    ]
    for response in responses:
        assert_api_headers(response.headers)
        assert "strict-transport-security" not in response.headers  # plain HTTP, not production


async def test_hsts_over_https_and_in_production(api: Api) -> None:
    response = await api.client.get("https://testserver.local/health")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "includeSubDomains" in response.headers["strict-transport-security"]


async def test_docs_policy_allows_exactly_the_swagger_assets(api: Api) -> None:
    response = await api.client.get("/docs/")
    if response.status_code in (301, 302, 307, 308):
        response = await api.client.get(response.headers["location"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if " " in d.strip())
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    scripts = directives["script-src"].split()
    assert "'unsafe-inline'" not in scripts
    assert "'unsafe-eval'" not in scripts
    html = response.content
    # every external script and stylesheet comes from the allowed CDN origin
    for url in re.findall(rb'<script src="([^"]+)"', html):
        assert url.decode().startswith("https://cdn.jsdelivr.net/"), url
        assert "https://cdn.jsdelivr.net" in scripts
    for url in re.findall(rb'<link href="([^"]+)" rel="stylesheet"', html):
        assert url.decode().startswith("https://cdn.jsdelivr.net/")
    # every inline script is allowed by its exact hash
    inline = re.findall(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, re.DOTALL)
    assert inline, "Swagger UI starts itself with an inline script"
    for body in inline:
        digest = "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        assert digest in scripts
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


async def test_script_payload_comes_back_inert(api: Api, member: Member) -> None:
    payload = "<script>alert(document.cookie)</script><img src=x onerror=alert(1)>"
    project = await api.create_project(member, title=payload, description=payload)
    response = await api.client.get(f"/api/v1/projects/{project['id']}", headers=member.headers)
    data = assert_success(response)
    assert data["description"] == payload  # stored and returned as given, as data
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    # a browser asking for HTML still gets JSON, never an HTML rendering of the payload
    html = await api.client.get(f"/api/v1/projects/{project['id']}", headers={**member.headers, "Accept": "text/html"})
    assert not html.headers["content-type"].startswith("text/html")
    # errors do not reflect a payload sent in the path or query
    reflected = await api.client.get("/api/v1/projects/%3Cscript%3Ealert(1)%3C%2Fscript%3E", headers=member.headers)
    assert reflected.status_code == 404
    assert "<script>" not in reflected.text
    assert reflected.headers["content-type"].startswith("application/json")


async def test_operator_objects_in_json_are_422(api: Api, member: Member) -> None:
    for body in ({"title": {"$ne": ""}}, {"title": "ok", "visibility": {"$in": ["public"]}}, {"$where": "1"}):
        response = await api.client.post("/api/v1/projects", json=body, headers=member.headers)
        assert_error(response, 422, "validation_error")
    assert await api.stored_projects() == []
    login = await api.client.post("/api/v1/auth/login", json={"email": member.email, "password": {"$ne": ""}})
    assert_error(login, 422, "validation_error")


async def test_operator_syntax_in_query_strings_is_never_a_filter(api: Api, member: Member) -> None:
    await api.create_project(member, title="alpha")
    await api.create_project(member, title="beta")
    # bracket syntax is not a parameter we know: ignored, so every project is listed
    for query in ("title[$ne]=", "q[$ne]=zzz", "q[$regex]=.*", "visibility[$ne]=public"):
        listed = await api.client.get(f"/api/v1/projects?{query}", headers=member.headers)
        assert len(assert_success(listed)) == 2, query
        assert listed.json()["meta"]["total"] == 2, query
    # an operator object sent as a known parameter's value is a literal string, never an operator
    literal = await api.client.get('/api/v1/projects?q={"$ne":""}', headers=member.headers)
    assert literal.json()["meta"]["total"] == 0
    regex = await api.client.get("/api/v1/projects?q=.*", headers=member.headers)
    assert regex.json()["meta"]["total"] == 0
    bad_enum = await api.client.get('/api/v1/projects?visibility={"$ne":"x"}', headers=member.headers)
    assert_error(bad_enum, 422, "validation_error")


# --- CORS ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cors_app() -> object:
    return create_app(make_settings(CORS_ALLOWED_ORIGINS=f"{TRUSTED},https://admin.example.com"))


@pytest.fixture
async def cors_client(cors_app: object) -> AsyncIterator[AsyncTestClient[object]]:
    container = await bootstrap(make_settings())
    try:
        async with AsyncTestClient(cors_app) as client:  # type: ignore[arg-type]
            client.app.state.container = container
            yield client
    finally:
        await container.close()


def preflight(origin: str, method: str = "POST", headers: str = "authorization, content-type") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


async def test_preflight_from_a_trusted_origin_is_allowed(cors_client: AsyncTestClient[object]) -> None:
    response = await cors_client.options("/api/v1/projects", headers=preflight(TRUSTED))
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == TRUSTED
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in response.headers
    assert response.headers["vary"].lower().count("origin") >= 1
    simple = await cors_client.get("/health", headers={"Origin": TRUSTED})
    assert simple.headers["access-control-allow-origin"] == TRUSTED
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()


async def test_preflight_from_another_origin_is_refused(cors_client: AsyncTestClient[object]) -> None:
    for origin in ("https://evil.example.com", "https://board.example.com.evil.net", "null"):
        response = await cors_client.options("/api/v1/projects", headers=preflight(origin))
        assert response.status_code >= 400, origin
        assert "access-control-allow-origin" not in response.headers
    simple = await cors_client.get("/health", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in simple.headers


async def test_preflight_for_a_method_or_header_not_listed_is_refused(cors_client: AsyncTestClient[object]) -> None:
    for method in ("TRACE", "CONNECT"):
        response = await cors_client.options("/api/v1/projects", headers=preflight(TRUSTED, method=method))
        assert response.status_code >= 400, method
        assert "access-control-allow-origin" not in response.headers
    odd_header = await cors_client.options("/api/v1/projects", headers=preflight(TRUSTED, headers="x-evil"))
    assert odd_header.status_code >= 400


async def test_without_configured_origins_no_cors_headers_are_sent(api: Api) -> None:
    response = await api.client.options("/api/v1/projects", headers=preflight(TRUSTED))
    assert "access-control-allow-origin" not in response.headers


async def test_production_sends_hsts_even_behind_a_plain_http_proxy() -> None:
    from entrypoints.http.security_headers import security_headers_hook

    message: dict[str, object] = {"type": "http.response.start", "status": 200, "headers": []}
    await security_headers_hook(hsts_always=True)(message, {"type": "http", "scheme": "http", "path": "/health"})  # type: ignore[arg-type]
    names = {name for name, _ in message["headers"]}  # type: ignore[attr-defined]
    assert b"strict-transport-security" in names
