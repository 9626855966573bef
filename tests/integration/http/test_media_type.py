"""A JSON route refuses a body that is not declared as JSON, and stores nothing."""

from __future__ import annotations

import pytest

from tests.integration.http.helpers import Api, assert_error


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
async def test_non_json_body_is_415_and_stores_nothing(api: Api, content_type: str) -> None:
    headers = (await api.member("media@example.com")).headers
    response = await api.client.post(
        "/api/v1/projects", content=b'{"title": "Looks like JSON"}', headers={**headers, "content-type": content_type}
    )
    assert_error(response, 415, "unsupported_media_type")
    listed = await api.client.get("/api/v1/projects", headers=headers)
    assert listed.json()["meta"]["total"] == 0


async def test_json_with_a_charset_parameter_is_accepted(api: Api) -> None:
    headers = (await api.member("charset@example.com")).headers
    response = await api.client.post(
        "/api/v1/projects",
        content=b'{"title": "Charset"}',
        headers={**headers, "content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text
