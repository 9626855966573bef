"""API4:2023 Unrestricted Resource Consumption.

Every cap the service sets is attacked: page sizes on every list route (from the OpenAPI
document), deep and garbage cursors, JSON bodies over ``REQUEST_MAX_BODY_BYTES`` (with and without
a ``Content-Length``), deeply nested JSON, over-long fields and query strings, uploads over
``FILE_MAX_BYTES`` (single and resumable, declared and undeclared sizes), imports over
``IMPORT_MAX_BYTES``, websocket messages over 4 KiB and more than 50 subscriptions, and the rate
limits (429 with ``Retry-After``), which are also checked on a real Redis where they live in
production. Each refusal stores nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.integration.http.helpers import Api, Member, assert_error
from tests.integration.ws.conftest import live_server, receive, subscribe
from tests.security.conftest import SUITE_ENV, ApiFactory
from tests.security.estate import PNG
from tests.security.openapi import operations
from tests.support.redis import redis_url


def list_routes() -> list[str]:
    return sorted(
        path
        for (method, path), spec in operations().items()
        if method == "GET" and any(p["name"] == "size" for p in spec.get("parameters", []))
    )


def concrete(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace(f"{{{name}}}", value)
    return path


async def test_list_routes_are_found() -> None:
    assert {"/api/v1/projects", "/api/v1/posts", "/api/v1/users"} <= set(list_routes())


@pytest.mark.parametrize("path", list_routes())
async def test_page_size_and_page_are_capped(api: Api, path: str) -> None:
    admin = await api.admin()
    project = await api.create_project(admin)
    url = concrete(path, {"project_id": project["id"]})
    for size in ("101", "0", "-1", "1000000000000", "1e3", "abc"):
        response = await api.client.get(url, params={"size": size}, headers=admin.headers)
        assert_error(response, 422, "validation_error", "query.size")
    for page in ("0", "-5", "99999999999999999999"):
        response = await api.client.get(url, params={"page": page}, headers=admin.headers)
        assert_error(response, 422, "validation_error", "query.page")
    ok = await api.client.get(url, params={"size": "100"}, headers=admin.headers)
    assert ok.status_code == 200
    assert ok.json()["meta"]["size"] == 100


async def test_garbage_and_huge_cursors_are_refused(api: Api) -> None:
    member = await api.member()
    for cursor in ("x" * 8000, "%00" * 50, "eyJ9" * 30, "../../etc/passwd"):
        response = await api.client.get("/api/v1/projects", params={"cursor": cursor}, headers=member.headers)
        assert response.status_code in (400, 414, 422), response.text


async def test_json_bodies_are_capped(api: Api) -> None:
    member = await api.member()
    big = json.dumps({"title": "t", "description": "x" * (2 * 1024 * 1024)}).encode()
    declared = await api.client.post(
        "/api/v1/projects", content=big, headers={**member.headers, "Content-Type": "application/json"}
    )
    assert_error(declared, 413, "payload_too_large")
    assert await api.stored_projects() == []


async def chunks(head: bytes, filler: int, tail: bytes) -> AsyncIterator[bytes]:
    yield head
    for _ in range(filler):
        yield b" " * 65536
    yield tail


async def test_undeclared_bodies_are_capped_while_streaming(storage_env: dict[str, str]) -> None:
    """Chunked bodies (no Content-Length to refuse up front) through a real server: Litestar's test
    transport cannot stream a request body."""
    async with live_server(FILE_MAX_BYTES="4096", IMPORT_MAX_BYTES="1024", **SUITE_ENV, **storage_env) as live:
        api = live.api
        member = await api.member()
        project = await api.create_project(member)
        json_body = await api.client.post(
            "/api/v1/projects",
            content=chunks(b"", 40, b'{"title": "t"}'),
            headers={**member.headers, "Content-Type": "application/json"},
        )
        assert_error(json_body, 413, "payload_too_large")
        boundary = b"--b0undary"
        head = boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="s.png"\r\n'
        head += b"Content-Type: image/png\r\n\r\n" + PNG
        multipart = {**member.headers, "Content-Type": "multipart/form-data; boundary=b0undary"}
        upload = await api.client.post(
            "/api/v1/files", content=chunks(head, 2, b"\r\n" + boundary + b"--\r\n"), headers=multipart
        )
        assert_error(upload, 413, "file_too_large")
        imported = await api.client.post(
            f"/api/v1/projects/{project['id']}/import",
            content=chunks(head.replace(b"s.png", b"t.csv"), 2, b"\r\n" + boundary + b"--\r\n"),
            headers=multipart,
        )
        assert_error(imported, 413, "import_too_large")
        assert [p["id"] for p in (await api.client.get("/api/v1/projects", headers=member.headers)).json()["data"]] == [
            project["id"]
        ]
        assert stored_files(live.container.settings.file_storage_root) == []


async def test_deeply_nested_json_is_a_clean_refusal(api: Api) -> None:
    member = await api.member()
    for body in (b"[" * 100_000, b'{"title": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", b'{"a":' * 20_000):
        response = await api.client.post(
            "/api/v1/projects", content=body, headers={**member.headers, "Content-Type": "application/json"}
        )
        assert response.status_code in (400, 422), response.text
    assert await api.stored_projects() == []


async def test_over_long_fields_and_queries_are_422(api: Api) -> None:
    member = await api.member()
    c, h = api.client, member.headers
    too_long = [
        await c.post("/api/v1/projects", json={"title": "x" * 201}, headers=h),
        await c.post("/api/v1/projects", json={"title": "t", "description": "x" * 10_001}, headers=h),
        await c.post("/api/v1/analysis/text", json={"text": "word " * 1001}, headers=h),
        await c.post("/api/v1/posts", json={"title": "t", "body": "x" * 20_001}, headers=h),
        await c.get("/api/v1/projects", params={"q": "x" * 201}, headers=h),
        await c.get("/api/v1/projects", params={"sort": "x" * 100}, headers=h),
    ]
    assert [r.status_code for r in too_long] == [422] * len(too_long)
    assert await api.stored_projects() == []


def stored_files(root: str) -> list[Path]:
    base = Path(root)
    return [p for p in base.rglob("*") if p.is_file()] if base.exists() else []


async def test_uploads_and_imports_are_capped(served_with: ApiFactory) -> None:
    async with served_with(FILE_MAX_BYTES="4096", FILE_CHUNKED_MAX_BYTES="8192", IMPORT_MAX_BYTES="1024") as api:
        member = await api.member()
        h, c = member.headers, api.client
        project = await api.create_project(member)
        root = api.container.settings.file_storage_root
        big = PNG + b"\0" * 8192
        single = await c.post("/api/v1/files", files={"file": ("big.png", big, "image/png")}, headers=h)
        assert_error(single, 413, "file_too_large")

        resumable = await c.post("/api/v1/files/uploads", json={"name": "r.png", "size": 8193}, headers=h)
        assert resumable.status_code in (413, 422), resumable.text  # a declared size over the cap
        for size in (-1, 0, 2**63):
            odd = await c.post("/api/v1/files/uploads", json={"name": "r.png", "size": size}, headers=h)
            assert odd.status_code in (413, 422), odd.text
        upload = await c.post("/api/v1/files/uploads", json={"name": "r.png", "size": 100}, headers=h)
        oversized_part = await c.put(
            f"/api/v1/files/uploads/{upload.json()['data']['id']}/parts/1", content=b"x" * 5000, headers=h
        )
        assert oversized_part.status_code in (413, 422), oversized_part.text
        imported = await c.post(
            f"/api/v1/projects/{project['id']}/import",
            files={"file": ("t.csv", b"title\n" + b"x" * 2048, "text/csv")},
            headers=h,
        )
        assert_error(imported, 413, "import_too_large")
        assert stored_files(root) == []
        assert await api.stored_tasks(project["id"]) == []


# --- websocket ----------------------------------------------------------------------------------


async def test_websocket_message_size_and_subscription_count_are_capped() -> None:
    async with live_server(**SUITE_ENV) as live:
        member = await live.api.member()
        projects = [await live.api.create_project(member) for _ in range(51)]
        async with live.socket(member) as ws:
            reply = await subscribe(ws, *[f"project:{p['id']}" for p in projects])
            # 50 accepted, the 51st refused by name; the connection stays usable
            messages = [reply]
            while {m.get("type") for m in messages} != {"subscribed", "error"}:
                messages.append(await receive(ws))
            assert [m["code"] for m in messages if m["type"] == "error"] == ["too_many_channels"]
            subscribed = [c for m in messages if m.get("type") == "subscribed" for c in m["channels"]]
            assert len(subscribed) == 50
            await ws.send(json.dumps({"type": "ping"}))
            assert (await receive(ws))["type"] in ("pong", "subscribed")
        async with live.socket(member) as ws:
            await ws.send(json.dumps({"type": "subscribe", "channels": ["user:me"], "pad": "x" * 5000}))
            with pytest.raises(ConnectionClosed) as closed:
                await drain(ws)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1009


async def drain(ws: Any) -> None:
    for _ in range(5):
        await receive(ws)


# --- rate limits --------------------------------------------------------------------------------


def new_ip() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.real_service)])
def limits_backend(request: pytest.FixtureRequest) -> dict[str, str]:
    return {"REDIS_URL": redis_url()} if request.param == "redis" else {}


async def hammer(api: Api, who: Member | None, count: int, ip: str) -> list[int]:
    headers = {"X-Forwarded-For": ip, **(who.headers if who else {})}
    return [(await api.client.get("/api/v1/projects", headers=headers)).status_code for _ in range(count)]


async def test_rate_limits_answer_429_with_retry_after(served_with: ApiFactory, limits_backend: dict[str, str]) -> None:
    settings = {"RATE_LIMIT_DEFAULT": "5/minute", "TRUSTED_PROXY_HEADER": "X-Forwarded-For", **limits_backend}
    async with served_with(**settings) as api:
        member, ip = await api.member(), new_ip()
        statuses = await hammer(api, member, 6, ip)
        assert statuses == [200] * 5 + [429]
        refused = await api.client.get("/api/v1/projects", headers={**member.headers, "X-Forwarded-For": ip})
        assert_error(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-remaining"] == "0"
        # the limit is the principal's: a new address does not reset it
        assert (await hammer(api, member, 1, new_ip())) == [429]
        # anonymous callers are limited per address, and junk tokens do not open new buckets
        anonymous = new_ip()
        junk = [
            (
                await api.client.get(
                    "/api/v1/projects", headers={"X-Forwarded-For": anonymous, "Authorization": f"Bearer junk{i}"}
                )
            ).status_code
            for i in range(6)
        ]
        assert junk == [401] * 5 + [429]
