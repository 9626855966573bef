"""Outside the resources: health, the OpenAPI document and Swagger UI, unknown routes and
methods, the request id — and that no error ever looks like a crash."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.http.helpers import Api, Member, assert_error, assert_no_internals, assert_success, running_api

# The document itself, Swagger UI, and Prometheus' scrape endpoint (text exposition for a
# scraper, not an API operation) are the only routes the OpenAPI document leaves out.
UNDOCUMENTED = ("/openapi.json", "/docs", "/metrics")
LIVENESS = "/health"  # answers 200 or not at all: it has no error response to document


async def test_health_live_and_ready(api: Api) -> None:
    live = await api.client.get("/health")
    ready = await api.client.get("/health/ready")

    assert assert_success(live)["status"] == "ok"
    assert assert_success(ready)["status"] == "ok"
    assert "no-store" in live.headers["cache-control"]


async def test_ready_is_503_naming_the_dependency_that_fails(api: Api) -> None:
    async def down() -> None:
        raise ConnectionError("mongodb://user:secret@db.internal:27017 refused")

    api.container.checks["mongodb"] = down

    response = await api.client.get("/health/ready")

    error = assert_error(response, 503, "dependency_unavailable")
    assert "mongodb" in error["message"]
    assert "secret" not in response.text
    assert "db.internal" not in response.text
    assert response.headers["retry-after"]


async def test_docs_serve_swagger_ui(api: Api) -> None:
    response = await api.client.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger" in response.text.lower()


async def _document(api: Api) -> dict[str, Any]:
    response = await api.client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    document: dict[str, Any] = response.json()
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "Trellis API"
    return document


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "put", "post", "patch", "delete")
    ]


async def test_every_operation_has_a_summary_description_and_its_error_responses(api: Api) -> None:
    document = await _document(api)
    operations = _operations(document)
    assert len(operations) >= 17

    for method, path, operation in operations:
        where = f"{method} {path}"
        assert operation.get("summary", "").strip(), where
        assert operation.get("description", "").strip(), where
        statuses = {int(s) for s in operation["responses"]}
        assert any(200 <= s < 400 for s in statuses), where  # a success, or a redirect (OIDC login)
        errors = statuses - set(range(200, 400))
        if path == LIVENESS:
            continue
        assert errors, f"{where} documents no error response"
        for status in errors:
            assert operation["responses"][str(status)].get("description"), (where, status)
        if operation.get("security"):
            assert 401 in errors, where
        if "{" in path:
            assert 404 in errors, where
        if "requestBody" in operation:
            assert {400, 422} <= errors, where
        if method in ("PUT", "PATCH", "DELETE") and path.startswith("/api/v1/projects"):
            assert 412 in errors, where


async def test_error_responses_are_documented_as_the_error_envelope(api: Api) -> None:
    document = await _document(api)
    schemas = document["components"]["schemas"]

    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"]
            schema = schemas[ref.rsplit("/", 1)[-1]]
            assert set(schema["required"]) >= {"error"}, (method, path, status)


async def test_no_route_is_left_out_of_the_document(api: Api) -> None:
    document = await _document(api)
    documented = {(method, path) for method, path, _ in _operations(document)}

    served = set()
    for route in api.client.app.routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        if path.startswith(UNDOCUMENTED):
            continue
        for method in getattr(route, "methods", ()):
            if method not in ("OPTIONS", "HEAD"):
                served.add((method, path))

    assert served
    assert served - documented == set()
    assert {("POST", "/api/v1/auth/signup"), ("GET", "/api/v1/projects/{project_id}/tasks")} <= served


async def test_bearer_security_scheme_is_declared(api: Api) -> None:
    document = await _document(api)

    scheme = document["components"]["securitySchemes"]["BearerToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v2/projects", "/api/v1/projects/x/y/z", "/%00"])
async def test_unknown_route_is_404_envelope(api: Api, member: Member, path: str) -> None:
    response = await api.client.get(path, headers=member.headers)

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/health"), ("PUT", "/api/v1/projects"), ("GET", "/api/v1/auth/signup"), ("POST", "/api/v1/tasks/x")],
)
async def test_wrong_method_is_405_envelope(api: Api, member: Member, method: str, path: str) -> None:
    response = await api.client.request(method, path, headers=member.headers)

    assert_error(response, 405, "method_not_allowed")
    assert method not in response.headers["allow"]
    assert await api.stored_projects() == []


async def test_request_id_is_echoed_when_sane_and_replaced_when_not(api: Api, member: Member) -> None:
    echoed = await api.client.get("/api/v1/projects", headers={**member.headers, "X-Request-ID": "client-req-0001"})
    replaced = await api.client.get("/api/v1/projects", headers={**member.headers, "X-Request-ID": "<script>"})
    error = await api.client.get("/api/v1/projects/nope", headers={**member.headers, "X-Request-ID": "trace-err-42"})

    assert echoed.headers["x-request-id"] == "client-req-0001"
    assert replaced.headers["x-request-id"] != "<script>"
    assert re.fullmatch(r"[A-Za-z0-9._:\-]{8,128}", replaced.headers["x-request-id"])
    assert error.headers["x-request-id"] == "trace-err-42"
    assert error.json()["error"]["request_id"] == "trace-err-42"


async def test_every_response_has_its_own_request_id(api: Api) -> None:
    ids = {(await api.client.get("/health")).headers["x-request-id"] for _ in range(5)}

    assert len(ids) == 5


async def test_hostile_inputs_never_produce_a_500(api: Api, member: Member) -> None:
    """A sweep of odd requests: every answer is a client error in the envelope, never a crash."""
    project = await api.create_project(member)
    pid = project["id"]
    h = member.headers
    json_headers = {**h, "Content-Type": "application/json"}
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/v1/projects", {"content": b"\x00\x01\x02", "headers": json_headers}),
        ("POST", "/api/v1/projects", {"content": b'{"title": "\\ud800"}', "headers": json_headers}),
        ("POST", "/api/v1/projects", {"content": b'{"title": "a", "title": 5}', "headers": json_headers}),
        ("POST", "/api/v1/projects", {"content": b"[" * 10_000, "headers": json_headers}),
        ("POST", "/api/v1/projects", {"content": b'{"title": 1e999}', "headers": json_headers}),
        ("POST", "/api/v1/projects", {"json": {"title": "ok", "site": "Lyon"}, "headers": member.headers}),
        ("POST", "/api/v1/projects", {"json": {"title": "ok", "site": {"lat": "north"}}, "headers": member.headers}),
        ("POST", "/api/v1/projects", {"json": {"title": "ok", "finish_date": "2026-02-30"}, "headers": member.headers}),
        ("PATCH", f"/api/v1/projects/{pid}", {"json": [], "headers": member.headers}),
        ("PATCH", f"/api/v1/projects/{pid}", {"json": {"site": {"lat": 1e308}}, "headers": member.headers}),
        (
            "POST",
            f"/api/v1/projects/{pid}/tasks",
            {"json": {"title": "t", "progress": 10**30}, "headers": member.headers},
        ),
        ("POST", f"/api/v1/projects/{pid}/tasks", {"json": {"title": "t", "tag": "x" * 51}, "headers": member.headers}),
        ("GET", "/api/v1/projects", {"params": {"page": "9" * 40}, "headers": member.headers}),
        ("GET", "/api/v1/projects", {"params": {"q": "x" * 500}, "headers": member.headers}),
        ("GET", "/api/v1/projects", {"params": {"sort": "-" * 50}, "headers": member.headers}),
        (
            "PATCH",
            f"/api/v1/projects/{pid}",
            {"json": {}, "headers": {**member.headers, "If-Match": '"v99999999999999999999"'}},
        ),
        ("POST", "/api/v1/auth/signup", {"json": {"email": "a@b.c", "password": "é" * 2000, "display_name": "x"}}),
        ("POST", "/api/v1/auth/login", {"json": {"email": "x" * 300, "password": "y"}}),
        ("POST", "/api/v1/auth/refresh", {"json": {"refresh_token": "not.a.jwe.at.all"}}),
        ("POST", "/api/v1/auth/logout", {"json": {"refresh_token": "x"}}),
    ]

    for method, path, kwargs in requests:
        response = await api.client.request(method, path, **kwargs)
        assert 400 <= response.status_code < 500, (
            method,
            path,
            kwargs.get("json"),
            response.status_code,
            response.text,
        )
        assert response.json()["status"] == "error"
        assert response.headers["x-request-id"]
        assert_no_internals(response)
    assert [p.title for p in await api.stored_projects()] == [project["title"]]
    junk_etag = await api.client.get(f"/api/v1/projects/{pid}", headers={**h, "If-None-Match": "\x7f" * 10})
    assert assert_success(junk_etag)["id"] == pid


@pytest.mark.parametrize("q", [".*(a+)+$", "[", "\\", "$where", "%", "_"])
async def test_search_text_is_a_literal_substring(api: Api, member: Member, q: str) -> None:
    await api.create_project(member, title="plain title")

    response = await api.client.get("/api/v1/projects", params={"q": q}, headers=member.headers)

    assert assert_success(response) == []
    assert response.json()["meta"]["total"] == 0


async def test_an_unexpected_error_is_500_internal_error_with_the_request_id_only() -> None:
    """The one 500 of the suite, on its own app (the ``api`` fixture refuses any 500)."""
    async with running_api() as crashing:
        someone = await crashing.member()

        async def explode(*_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError("boom at /work/main/application/projects.py line 42: password=hunter2")

        crashing.container.projects.list = explode  # type: ignore[method-assign]
        response = await crashing.client.get(
            "/api/v1/projects", headers={**someone.headers, "X-Request-ID": "crash-0001"}
        )

    error = assert_error(response, 500, "internal_error")
    assert error["details"] == []
    assert "crash-0001" in error["message"]
    for secret in ("boom", "hunter2", "RuntimeError", "application/projects"):
        assert secret not in response.text
