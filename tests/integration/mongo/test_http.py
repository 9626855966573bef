"""The HTTP app built on MongoDB: one happy path, and an outage answered with 503 then recovered.

The app is built as the service builds it (``bootstrap`` + ``create_app``) with ``MONGODB_URL``
and served in the test's own event loop (httpx's ASGI transport): PyMongo's async client is
bound to the loop it was created on, and Litestar's test client would run the app in another.
The outage test runs its own wire server on a free port, kills it, and starts it again on the
same port while the app keeps running (a restarted wire server is empty: it keeps data in
memory; a real ``mongod`` would come back with its data).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
import pytest
from litestar.testing import AsyncTestClient

from entrypoints.bootstrap import bootstrap
from entrypoints.http.app import create_app
from tests.integration.http.helpers import PASSWORD, Api, assert_error, assert_success, make_settings
from tests.integration.mongo.conftest import drop_database
from tests.support.mongo import WIRE_PYTHON, mongo_url, start_wire_server, wire_url
from tests.support.services import RunningServer

PROJECTS = "/api/v1/projects"


@asynccontextmanager
async def running_api(**settings: str) -> AsyncIterator[Api]:
    """``bootstrap`` + ``create_app`` + lifespan, and a client on it, all on the current loop."""
    container = await bootstrap(make_settings(**settings))
    app = create_app(container.settings, container=container)
    try:
        async with app.lifespan():
            transport = httpx.ASGITransport(app=cast(Any, app), client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                yield Api(client=cast(AsyncTestClient[Any], client), container=container)
    finally:
        await container.close()


@pytest.fixture
async def database(database_name: str) -> AsyncIterator[str]:
    yield database_name
    await drop_database(database_name)


async def test_board_flow_on_mongodb(database: str) -> None:
    # (the app's lifespan is entered in the test itself: a fixture's teardown runs in another task)
    async with running_api(MONGODB_URL=mongo_url(), MONGODB_DATABASE=database) as api:
        await board_flow(api)


async def board_flow(api: Api) -> None:
    owner, other = await api.member(), await api.member()

    me = assert_success(await api.client.get("/api/v1/auth/me", headers=owner.headers))
    assert me["id"] == owner.user_id

    private = await api.create_project(owner, title="Private survey")
    public = await api.create_project(owner, title="Open survey", visibility="public")
    first = await api.create_task(owner, private["id"], tag="field", progress=40)
    await api.create_task(owner, private["id"], tag="field", progress=100)
    await api.create_task(owner, private["id"], tag="office")

    changed = await api.client.patch(f"/api/v1/tasks/{first['id']}", json={"progress": 80}, headers=owner.headers)
    assert assert_success(changed)["progress"] == 80
    project = assert_success(await api.client.get(f"{PROJECTS}/{private['id']}", headers=owner.headers))
    assert project["progress"] == 60.0  # (80 + 100 + 0) / 3, recomputed in the same transaction
    assert (await api.stored_project(private["id"])).progress == 60.0

    # a personal project of someone else does not exist for them, nor do its tasks
    assert_error(await api.client.get(f"{PROJECTS}/{private['id']}", headers=other.headers), 404, "not_found")
    assert_error(await api.client.get(f"{PROJECTS}/{private['id']}/tasks", headers=other.headers), 404, "not_found")
    seen = assert_success(await api.client.get(PROJECTS, headers=other.headers))
    assert [p["id"] for p in seen] == [public["id"]]

    listed = await api.client.get(PROJECTS, params={"include": "stats", "sort": "title"}, headers=owner.headers)
    stats = {p["title"]: p["stats"] for p in assert_success(listed)}
    assert stats == {
        "Open survey": {"task_count": 0, "completed": 0, "by_tag": {}},
        "Private survey": {"task_count": 3, "completed": 1, "by_tag": {"field": 2, "office": 1}},
    }
    plain = assert_success(await api.client.get(PROJECTS, headers=owner.headers))
    assert all("stats" not in p for p in plain)


# --- outage -----------------------------------------------------------------------------------


@pytest.fixture
def private_server() -> RunningServer:
    if os.environ.get("MONGODB_URL") and not WIRE_PYTHON.exists():
        pytest.skip("needs a server it may kill: install the wire server (tools/mongo/install.sh)")
    return start_wire_server()


def assert_unavailable(response: httpx.Response) -> None:
    """503 ``dependency_unavailable`` with ``Retry-After`` (``assert_error``: no driver text leaks)."""
    assert_error(response, 503, "dependency_unavailable")
    assert response.headers["retry-after"].isdigit()


async def test_outage_answers_503_and_recovers_without_a_restart(private_server: RunningServer) -> None:
    server = private_server
    port = server.port
    try:
        async with running_api(MONGODB_URL=wire_url(port), MONGODB_DATABASE="trellis_outage") as api:
            owner = await api.member()
            project = await api.create_project(owner, title="Before the outage", visibility="public")
            task = await api.create_task(owner, project["id"], progress=10)
            events_before = api.event_count()

            server.kill()

            h = owner.headers
            attempts: list[Callable[[], Awaitable[httpx.Response]]] = [
                lambda: api.client.get(PROJECTS, params={"include": "stats"}, headers=h),
                lambda: api.client.post(PROJECTS, json={"title": "During the outage"}, headers=h),
                lambda: api.client.patch(f"/api/v1/tasks/{task['id']}", json={"progress": 50}, headers=h),
                lambda: api.client.post(
                    "/api/v1/auth/signup",
                    json={"email": "late@example.com", "password": PASSWORD, "display_name": "Late"},
                ),
            ]
            for attempt in attempts:
                started = time.monotonic()
                assert_unavailable(await attempt())
                assert time.monotonic() - started < 5.0, "an outage must surface within the driver's timeout"
            assert api.event_count() == events_before  # nothing was applied, so nothing was announced

            started = time.monotonic()
            ready = await api.client.get("/health/ready")
            assert time.monotonic() - started < 2.0
            assert ready.status_code == 503
            assert ready.headers["retry-after"].isdigit()
            assert ready.json()["error"]["code"] == "dependency_unavailable"
            assert "mongodb" in ready.json()["error"]["message"]

            server = start_wire_server(port)  # back on the same address; the app was never restarted
            deadline = time.monotonic() + 15.0
            while (await api.client.get("/health/ready")).status_code != 200:
                assert time.monotonic() < deadline, "the app did not see MongoDB come back"
                await asyncio.sleep(0.2)
            assert assert_success(await api.client.get("/health/ready"))["checks"]["mongodb"] == "ok"

            # the restarted wire server is empty, so the data is new; a real mongod keeps it
            again = await api.member()
            fresh = await api.create_project(again, title="After the outage")
            await api.create_task(again, fresh["id"], progress=50)
            read = assert_success(await api.client.get(f"{PROJECTS}/{fresh['id']}", headers=again.headers))
            assert read["progress"] == 50.0
    finally:
        server.stop()
