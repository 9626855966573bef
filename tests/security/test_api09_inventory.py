"""API9:2023 Improper Inventory Management.

The app's route table and its OpenAPI document must agree: every route is documented, nothing is
documented that does not exist, and the only undocumented routes are the documentation itself
and the metrics endpoint. No debug, test, admin-console or old-version routes are mounted (the
API has one version, ``/api/v1``), unknown paths and versions are 404, unknown methods 405, and the
document describes what the server really enforces (401 on secured operations).
"""

from __future__ import annotations

import re

import pytest

from tests.integration.http.helpers import Api, assert_error
from tests.security.conftest import suite_app
from tests.security.estate import http_operations
from tests.security.openapi import document, operations

#: what serves the documentation, and the Prometheus scrape endpoint (plain text, not part of the API)
UNDOCUMENTED = {
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/openapi.json"),
    ("GET", "/docs/oauth2-redirect.html"),
    ("GET", "/docs/{path}"),
    ("GET", "/metrics"),
}
SUSPICIOUS = re.compile(
    r"debug|test|internal|console|dev|shell|eval|phpinfo|actuator|swagger-ui|/v0/|/v2/|/beta/", re.I
)


def test_every_route_is_documented() -> None:
    routes = set(http_operations(suite_app()))
    undocumented = routes - set(operations()) - UNDOCUMENTED
    assert undocumented == set(), f"routes missing from /openapi.json: {sorted(undocumented)}"


def test_nothing_documented_is_missing() -> None:
    phantom = set(operations()) - set(http_operations(suite_app()))
    assert phantom == set(), f"documented but not routed: {sorted(phantom)}"


def test_the_allowlist_of_undocumented_routes_is_not_stale() -> None:
    assert set(http_operations(suite_app())) >= UNDOCUMENTED


def test_no_debug_or_stray_routes_are_mounted() -> None:
    paths = {path for _, path in http_operations(suite_app())}
    assert not [p for p in paths if SUSPICIOUS.search(p)]
    api = {p for p in paths if p.startswith("/api/")}
    assert all(p.startswith("/api/v1/") for p in api), "one API version only"
    outside = {p for p in paths if not p.startswith("/api/")}
    assert outside <= {"/health", "/health/ready", "/metrics", "/openapi.json"} | {
        p for p in outside if p.startswith("/docs")
    }


def test_every_secured_operation_documents_its_401() -> None:
    global_security = document().get("security")
    missing = [
        op
        for op, spec in operations().items()
        if (spec.get("security", global_security)) and "401" not in spec.get("responses", {})
    ]
    assert missing == []


def test_the_document_names_one_server_version() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["version"]
    assert all(path.startswith(("/api/v1/", "/health")) for path in doc["paths"])


@pytest.mark.parametrize(
    "path",
    [
        "/api/v0/projects",
        "/api/v2/projects",
        "/api/projects",
        "/api/v1/debug",
        "/api/v1/admin",
        "/api/v1/internal/users",
        "/api/v1/test",
        "/debug",
        "/console",
        "/.env",
        "/.git/config",
        "/schema/openapi.yaml",
        "/actuator/health",
        "/server-status",
    ],
)
async def test_unknown_and_old_paths_are_404(api: Api, path: str) -> None:
    assert_error(await api.client.get(path), 404, "not_found")


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "DEBUG"])
async def test_unusual_methods_are_refused(api: Api, method: str) -> None:
    response = await api.client.request(method, "/api/v1/projects")
    assert response.status_code in (400, 405), response.text
    assert "Traceback" not in response.text


async def test_each_documented_secured_operation_really_answers_401_anonymously(api: Api) -> None:
    """What the document promises is what the server does: no secured operation is open."""
    global_security = document().get("security")
    open_ops = []
    for (method, path), spec in sorted(operations().items()):
        if not spec.get("security", global_security):
            continue
        concrete = re.sub(r"\{[^}]+\}", "1", path)  # "1" fits every parameter type
        response = await api.client.request(method, concrete)
        if response.status_code != 401:
            open_ops.append((method, path, response.status_code))
    assert open_ops == []
