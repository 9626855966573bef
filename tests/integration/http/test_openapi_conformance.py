"""Regression tests for what schemathesis (tests/e2e/test_schemathesis.py) found.

Each test names the finding: a response that broke its own OpenAPI document, or a document
that did not say what the server accepts.
"""

from __future__ import annotations

import re
from typing import Any

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


async def _document(api: Api) -> dict[str, Any]:
    response = await api.client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_request_models_forbid_unknown_fields_in_the_document(api: Api) -> None:
    # the server answers 422 to an unknown field; the document allowed any (no additionalProperties)
    schemas = (await _document(api))["components"]["schemas"]
    for name in ("LoginIn", "SignupIn", "RefreshIn", "ProjectPatchIn", "TaskPatchIn", "PostCreateIn", "TextIn"):
        assert schemas[name]["additionalProperties"] is False, name
    assert "additionalProperties" not in schemas["ProjectOut"]


async def test_a_lower_bound_of_zero_is_in_the_document(api: Api) -> None:
    # PATCH a task with progress -395 was a 422, but the document said only "maximum: 100"
    schemas = (await _document(api))["components"]["schemas"]
    for name in ("TaskCreateIn", "TaskReplaceIn", "TaskPatchIn"):
        assert schemas[name]["properties"]["progress"]["minimum"] == 0, name


async def test_sort_parameters_name_their_accepted_values(api: Api) -> None:
    # sort=000… was a 422, but the document accepted any string
    paths = (await _document(api))["paths"]
    for path in ("/api/v1/projects", "/api/v1/projects/{project_id}/tasks", "/api/v1/posts", "/api/v1/collections"):
        sort = next(p for p in paths[path]["get"]["parameters"] if p["name"] == "sort")
        pattern = re.compile(sort["schema"]["pattern"])
        assert pattern.match("-created_at")
        assert not pattern.match("0000")


async def test_export_and_download_document_what_they_answer(api: Api) -> None:
    paths = (await _document(api))["paths"]
    export = paths["/api/v1/projects/{project_id}/export"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"text/csv", "application/json", "application/xml"}
    # ?redirect=null is a 422, which the download route did not list
    assert "422" in paths["/api/v1/files/{file_id}/content"]["get"]["responses"]


async def test_an_integer_written_with_a_zero_fraction_is_an_integer(api: Api) -> None:
    # {"progress": 85.0} was a 422 "Expected `int`, got `float`"; JSON Schema counts 85.0 as an
    # integer, so the document accepted it
    member = await api.member()
    project = await api.create_project(member)
    created = await api.client.post(
        f"/api/v1/projects/{project['id']}/tasks", json={"title": "Pour", "progress": 85.0}, headers=member.headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["data"]["progress"] == 85
    fraction = await api.client.patch(
        f"/api/v1/tasks/{created.json()['data']['id']}", json={"progress": 85.5}, headers=member.headers
    )
    assert fraction.status_code == 422
    text = await api.client.patch(
        f"/api/v1/tasks/{created.json()['data']['id']}", json={"progress": "90"}, headers=member.headers
    )
    assert text.status_code == 422


async def test_the_streamed_multipart_routes_declare_their_file_field(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    for path in ("/api/v1/files", "/api/v1/projects/{project_id}/import"):
        body = document["paths"][path]["post"]["requestBody"]
        schema = body["content"]["multipart/form-data"]["schema"]
        assert body["required"] is True
        assert schema["required"] == ["file"]
        assert schema["properties"]["file"] == {**schema["properties"]["file"], "type": "string", "format": "binary"}
