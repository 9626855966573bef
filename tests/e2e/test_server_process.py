"""End to end: the service started the way the README starts it (``./dev run``), driven by httpx.

The server is a real process listening on a free loopback port; nothing is imported from the
application. The last test stops it with SIGTERM and checks that it shut down cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.services import RunningServer, free_port, start_server

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery 42"


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _start() -> tuple[RunningServer, str]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        "PORT": str(port),
        "APP_ENV": "development",
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "1024",
    }
    env.pop("MONGODB_URL", None)
    server = start_server(
        "trellis", [str(ROOT / "dev"), "run"], port, env=env, cwd=ROOT, ready=lambda: _healthy(base_url), timeout=120
    )
    return server, base_url


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[RunningServer, str]]:
    running, base_url = _start()
    try:
        yield running, base_url
    finally:
        running.stop()


def _login(client: httpx.Client, email: str) -> dict[str, str]:
    signup = client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "display_name": "E2E"})
    assert signup.status_code == 201, signup.text
    login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['data']['access_token']}"}


def test_board_flow_over_real_http(server: tuple[RunningServer, str]) -> None:
    _, base_url = server
    with httpx.Client(base_url=base_url, timeout=10) as client:
        owner = _login(client, "owner@e2e.example")
        other = _login(client, "other@e2e.example")

        created = client.post("/api/v1/projects", json={"title": "Bridge", "visibility": "personal"}, headers=owner)
        assert created.status_code == 201
        project_id = created.json()["data"]["id"]
        assert created.headers["location"] == f"/api/v1/projects/{project_id}"

        for title, progress in (("Survey", 100), ("Pour", 50), ("Paint", 0)):
            task = client.post(
                f"/api/v1/projects/{project_id}/tasks", json={"title": title, "progress": progress}, headers=owner
            )
            assert task.status_code == 201, task.text

        project = client.get(f"/api/v1/projects/{project_id}", headers=owner).json()["data"]
        assert project["progress"] == 50.0

        # personal: to another member it does not exist, in reads and in lists
        assert client.get(f"/api/v1/projects/{project_id}", headers=other).status_code == 404
        listed = client.get("/api/v1/projects", headers=other).json()
        assert listed["meta"]["total"] == 0

        tasks = client.get(f"/api/v1/projects/{project_id}/tasks?size=2&sort=title", headers=owner)
        assert [t["title"] for t in tasks.json()["data"]] == ["Paint", "Pour"]
        assert 'rel="next"' in tasks.headers["link"]

        completed = next(
            t
            for t in client.get(f"/api/v1/projects/{project_id}/tasks", headers=owner).json()["data"]
            if t["completed"]
        )
        locked = client.patch(f"/api/v1/tasks/{completed['id']}", json={"title": "Again"}, headers=owner)
        assert locked.status_code == 409
        assert locked.json()["error"]["code"] == "task_completed"


def test_request_id_is_echoed_and_errors_are_enveloped(server: tuple[RunningServer, str]) -> None:
    _, base_url = server
    with httpx.Client(base_url=base_url, timeout=10) as client:
        response = client.get("/api/v1/projects", headers={"X-Request-ID": "e2e-request-0001"})
        assert response.status_code == 401
        assert response.headers["x-request-id"] == "e2e-request-0001"
        assert response.headers["www-authenticate"].startswith("Bearer")
        body = response.json()
        assert body["status"] == "error"
        assert body["error"]["request_id"] == "e2e-request-0001"
        assert client.get("/docs").status_code == 200
        assert client.get("/openapi.json").json()["info"]["title"] == "Trellis API"


def test_sigterm_stops_the_server_cleanly() -> None:
    running, base_url = _start()
    try:
        assert _healthy(base_url)
        os.kill(running.process.pid, signal.SIGTERM)
        try:
            status = running.process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - the assertion below reports it
            status = None
        log = running.log_tail(60)
        # the server finished its graceful shutdown and exited 0 ("Finished server process");
        # `just` in front of it reports its own SIGTERM as 143, the conventional status.
        assert status in (0, 128 + signal.SIGTERM), f"exit status {status}; log:\n{log}"
        assert "Application shutdown complete" in log
        assert "Finished server process" in log
        assert "Traceback" not in log
        assert not _healthy(base_url)
    finally:
        running.stop()
