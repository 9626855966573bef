"""Regression tests for what schemathesis (tests/e2e/test_schemathesis.py) found.

Each test names the finding: a response that broke its own OpenAPI document, or a document
that did not say what the server accepts.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
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


def _accepts(document: dict[str, Any], component: str, value: Any) -> bool:
    """Whether the document's schema of ``component`` accepts ``value`` (refs resolved in the document)."""
    schema = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    return jsonschema.Draft202012Validator(schema).is_valid(value)


@pytest.mark.parametrize(
    "site",
    [
        {"place": "Oslo"},
        {"lat": 59.9, "lon": 10.7},
        {"place": "Oslo", "lat": 59.9, "lon": 10.7},
        {"lat": 0.0, "lon": None, "place": "0"},  # found: lat without lon
        {"lon": None},  # found: nothing at all
        {"place": None, "lat": None, "lon": None},  # found: nothing at all, spelled out
        {"place": "   "},  # a blank place is no place
        {"lat": 91, "lon": 0},
    ],
)
async def test_the_document_states_the_site_rules_the_server_applies(api: Api, site: dict[str, Any]) -> None:
    # schemathesis sent sites the document allowed and the server refused (422 "needs a place or lat
    # and lon", "lat and lon must be given together"); the document now says: a place, or lat and lon
    document = await _document(api)
    member = await api.member()
    body = {"title": "Site", "site": site}
    created = await api.client.post("/api/v1/projects", json=body, headers=member.headers)
    assert created.status_code in (201, 422), created.text
    assert _accepts(document, "ProjectCreateIn", body) is (created.status_code == 201), created.text


@pytest.mark.parametrize(
    "upload",
    [
        {"name": "a.png", "size": 1},
        {"name": "a.png", "size": 5, "part_size": 65536},
        {"name": "a.png", "size": 5, "part_size": 65536.0},  # found: an optional int written 65536.0 was refused
        {"name": "0", "size": 0},  # found: size 0 (the server wants at least 1)
        {"name": "big.png", "size": 313738128863},  # found: 413 for a size the document allowed
        {"name": "big.png", "size": 1024**3 + 1},  # found: then 413 for a size over the documented maximum
        {"name": "a.png", "size": 5, "part_size": 1},
        {"name": "0", "size": 1, "part_size": 0},  # found: 0 was taken as "the default part size" (201)
        {"name": "", "size": 5},
        {"name": "  .. ", "size": 5},
        {"name": "a/b.png", "size": 5},
        {"name": "a\u200bb.png", "size": 5},  # a format character
        {"name": "a.png", "size": 5, "task_id": "t", "post_id": "p"},  # a task or a post, not both
    ],
)
async def test_the_document_states_the_bounds_of_a_resumable_upload(api: Api, upload: dict[str, Any]) -> None:
    document = await _document(api)
    member = await api.member()
    started = await api.client.post("/api/v1/files/uploads", json=upload, headers=member.headers)
    assert started.status_code in (201, 422), started.text  # a declared size over the bound is a field error
    assert _accepts(document, "UploadIn", upload) is (started.status_code == 201), started.text


async def test_upload_state_conflicts_are_409_and_documented(api: Api) -> None:
    # found: completing an upload with parts missing was a 422 for a request with nothing invalid in
    # it; what is missing is in the upload's state, so it is a 409 `upload_incomplete`, and a part
    # that does not fit the upload (number, size) a 409 `part_mismatch`
    paths = (await _document(api))["paths"]
    complete = paths["/api/v1/files/uploads/{upload_id}/complete"]["post"]
    part = paths["/api/v1/files/uploads/{upload_id}/parts/{number}"]["put"]
    assert "409" in complete["responses"]
    assert "409" in part["responses"]
    member = await api.member()
    started = await api.client.post("/api/v1/files/uploads", json={"name": "a.png", "size": 3}, headers=member.headers)
    base = f"/api/v1/files/uploads/{started.json()['data']['id']}"
    incomplete = await api.client.post(f"{base}/complete", headers=member.headers)
    assert incomplete.status_code == 409
    assert incomplete.json()["error"]["code"] == "upload_incomplete"
    # the part's header and body are documented: the digest is required and has a shape
    digest_header = next(p for p in part["parameters"] if p["name"] == "Content-Digest")
    assert digest_header["required"] is True
    assert re.fullmatch(digest_header["schema"]["pattern"].strip("^$"), "sha-256=:" + "A" * 43 + "=:")
    assert "application/octet-stream" in part["requestBody"]["content"]
    no_digest = await api.client.put(f"{base}/parts/1", content=b"abc", headers=member.headers)
    assert no_digest.status_code == 422


async def test_a_download_documents_the_types_it_answers(api: Api) -> None:
    # found: GET /files/{id}/content answered image/png; the document said application/json
    document = await _document(api)
    responses = document["paths"]["/api/v1/files/{file_id}/content"]["get"]["responses"]
    member = await api.member()
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
    sent = await api.client.post("/api/v1/files", files={"file": ("a.png", png, "image/png")}, headers=member.headers)
    assert sent.status_code == 201, sent.text
    got = await api.client.get(f"/api/v1/files/{sent.json()['data']['id']}/content", headers=member.headers)
    assert got.status_code == 200
    assert got.headers["content-type"].split(";")[0] in responses["200"]["content"]
    assert set(responses["206"]["content"]) == set(responses["200"]["content"])
    assert "application/json" not in responses["200"]["content"]


async def test_the_multipart_routes_take_only_their_documented_fields(api: Api) -> None:
    # found: an import with extra form fields was answered (its extra parts ignored, or a 400 for
    # odd part names) while the document allowed any field; a file upload with both task_id and
    # post_id was a 422 the document did not state. Now: only the documented fields, each rule stated.
    paths = (await _document(api))["paths"]
    upload = paths["/api/v1/files"]["post"]["requestBody"]["content"]["multipart/form-data"]
    imported = paths["/api/v1/projects/{project_id}/import"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload["schema"]["additionalProperties"] is False
    assert imported["schema"]["additionalProperties"] is False
    assert not jsonschema.Draft202012Validator(upload["schema"]).is_valid({"file": "x", "task_id": "t", "post_id": "p"})
    assert "image/png" in upload["encoding"]["file"]["contentType"]
    assert "text/csv" in imported["encoding"]["file"]["contentType"]
    assert all(p["in"] != "query" for p in paths["/api/v1/files"]["post"].get("parameters", []))

    member = await api.member()
    project = await api.create_project(member)
    csv = b"title\nPour\n"
    extra = await api.client.post(
        f"/api/v1/projects/{project['id']}/import",
        files={"file": ("t.csv", csv, "text/csv")},
        data={"note": "x"},
        headers=member.headers,
    )
    assert extra.status_code == 422, extra.text
    assert extra.json()["error"]["details"][0]["field"] == "body.note"
    # the query form of task_id is gone from the document, and refused rather than silently ignored
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
    queried = await api.client.post(
        "/api/v1/files?task_id=abc", files={"file": ("a.png", png, "image/png")}, headers=member.headers
    )
    assert queried.status_code == 422, queried.text
    assert queried.json()["error"]["details"][0]["field"] == "query.task_id"
    # found: an empty task_id field (below the documented minLength) was taken as "no task" (201)
    empty = await api.client.post(
        "/api/v1/files", files={"file": ("a.png", png, "image/png")}, data={"task_id": ""}, headers=member.headers
    )
    assert empty.status_code == 422, empty.text
    assert empty.json()["error"]["details"][0]["field"] == "body.task_id"


async def test_a_blank_title_tag_or_place_is_refused_by_the_document_too(api: Api) -> None:
    # the domain strips before it counts, so "   " is empty; the document now says "not blank" (\S)
    document = await _document(api)
    assert not _accepts(document, "ProjectCreateIn", {"title": "   "})
    assert _accepts(document, "ProjectCreateIn", {"title": " x "})
    member = await api.member()
    blank = await api.client.post("/api/v1/projects", json={"title": "   "}, headers=member.headers)
    assert blank.status_code == 422


@pytest.mark.parametrize(
    "query",
    [
        {"place": "Oslo"},
        {"lat": 59.9, "lon": 10.7},
        {"lat": 59.9},
        {"lon": 10.7},
        {"place": "Oslo", "lat": 1, "lon": 2},
        {},
    ],
)
async def test_the_weather_location_rule_is_in_the_document(api: Api, query: dict[str, Any]) -> None:
    # `place`, or `lat` and `lon` together: three query parameters could not say it (the routes were
    # left out of schemathesis for that); one exploded form object can, with the same query string
    document = await _document(api)
    [location] = document["paths"]["/api/v1/weather"]["get"]["parameters"]
    assert (location["in"], location["style"], location["explode"]) == ("query", "form", True)
    member = await api.member()
    response = await api.client.get("/api/v1/weather", params=query, headers=member.headers)
    # no provider is configured here: a valid location gets 503 weather_unavailable, an invalid one 422
    assert response.status_code in (422, 503), response.text
    valid = jsonschema.Draft202012Validator(location["schema"]).is_valid(query)
    assert valid is (response.status_code == 503), response.text


async def test_blank_text_to_analyse_is_refused_by_the_document_too(api: Api) -> None:
    # found: {"text": "   "} met minLength 1 and was a 422 "must not be empty"; the document now says not blank
    document = await _document(api)
    assert not _accepts(document, "TextIn", {"text": "   "})
    member = await api.member()
    blank = await api.client.post("/api/v1/analysis/text", json={"text": "   "}, headers=member.headers)
    assert blank.status_code == 422
    assert _accepts(document, "TextIn", {"text": " ok "})


async def test_the_export_download_documents_its_422_and_its_media_types(api: Api) -> None:
    # found: GET /jobs/{id}/download?redirect=x answered a 422 its responses did not list, and
    # text/csv where the document said application/json
    paths = (await _document(api))["paths"]
    responses = paths["/api/v1/jobs/{job_id}/download"]["get"]["responses"]
    assert "422" in responses
    assert set(responses["200"]["content"]) == {"text/csv", "application/json", "application/xml"}


async def test_an_empty_file_is_refused_by_the_document_too(api: Api) -> None:
    # found: an empty `file` part (the document allowed zero bytes) was a 422 "the file is empty"
    paths = (await _document(api))["paths"]
    schema = paths["/api/v1/files"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["file"]["minLength"] == 1
    # an empty import is accepted (202) and its job fails ("The file is empty"): the document allows it
    imported = paths["/api/v1/projects/{project_id}/import"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert "minLength" not in imported["schema"]["properties"]["file"]
    member = await api.member()
    empty = await api.client.post("/api/v1/files", files={"file": ("a.png", b"", "image/png")}, headers=member.headers)
    assert empty.status_code == 422, empty.text


async def test_a_blank_post_title_or_collection_name_is_refused_by_the_document_too(api: Api) -> None:
    # found: {"name": "\t"} met minLength 1 and was a 422 "must not be empty"; the models now say \S
    document = await _document(api)
    member = await api.member()
    for component, path, body in (
        ("CollectionCreateIn", "/api/v1/collections", {"name": "\t"}),
        ("PostCreateIn", "/api/v1/posts", {"title": " \t"}),
    ):
        assert not _accepts(document, component, body), component
        refused = await api.client.post(path, json=body, headers=member.headers)
        assert refused.status_code == 422, refused.text
