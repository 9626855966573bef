"""The OpenAPI document as clients get it (``GET /openapi.json``), read once per test process."""

from __future__ import annotations

import functools
from typing import Any

from litestar.testing import TestClient

from tests.security.conftest import suite_app

METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")


@functools.cache
def document() -> dict[str, Any]:
    with TestClient(suite_app()) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


def operations() -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path) -> the operation object, for every documented operation."""
    return {
        (method.upper(), path): operation
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def admin_operations() -> list[tuple[str, str]]:
    """The operations the document says only admins may use (their summaries say "(admin)")."""
    return sorted(op for op, spec in operations().items() if "(admin" in spec.get("summary", "").lower())
