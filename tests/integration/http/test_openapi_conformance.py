"""Regression tests for what schemathesis (tests/e2e/test_schemathesis.py) found.

Each test names the finding: a response that broke its own OpenAPI document, or a document
that did not say what the server accepts.
"""

from __future__ import annotations

import pytest

from tests.integration.http.helpers import Api


async def test_csv_export_sends_one_charset_parameter(api: Api) -> None:
    # was "text/csv; charset=utf-8; charset=utf-8": the media type carried a charset and
    # Litestar appends one to every text/* type
    member = await api.member()
    project = await api.create_project(member)
    response = await api.client.get(f"/api/v1/projects/{project['id']}/export", headers=member.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/v1/projects/any-id", "DELETE, GET, OPTIONS, PATCH, PUT"),
        ("/api/v1/projects", "GET, OPTIONS, POST"),
        ("/api/v1/projects/any-id/tasks", "GET, OPTIONS, POST"),
        ("/api/v1/tasks/any-id", "DELETE, GET, OPTIONS, PATCH, PUT"),
        ("/api/v1/collections/any-id", "DELETE, GET, OPTIONS, PATCH"),
        ("/api/v1/users/any-id", "GET, OPTIONS, PATCH"),
    ],
)
async def test_options_allow_names_every_method_of_the_path(api: Api, path: str, methods: str) -> None:
    # was "DELETE, OPTIONS" for a project: Litestar's automatic OPTIONS answer kept the methods
    # the path had when it was made, not those a later registration added
    response = await api.client.options(path)
    assert response.status_code == 204
    assert response.headers["allow"] == methods
