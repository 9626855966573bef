"""Helpers for the HTTP integration suite.

The app is built exactly as the service builds it (``bootstrap`` + ``create_app``) on embedded
defaults, with argon2 made cheap. ``Api`` wraps the test client with helpers that sign up and
log in users and create projects and tasks through the API, and gives direct access to the
stored state so a test can show that a refused request stored nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.clock import FixedClock
from domain.board import Project, Task
from domain.identity import Role, User
from domain.paging import PageRequest
from domain.ports import ProjectQuery, TaskQuery
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.http.app import create_app
from entrypoints.settings import Settings, load_settings

PASSWORD = "correct horse battery staple"
TEST_ENV = {"APP_ENV": "test", "PASSWORD_HASH_TIME_COST": "1", "PASSWORD_HASH_MEMORY_KIB": "64"}

Headers = dict[str, str]
_counter = itertools.count(1)


def make_settings(**overrides: str) -> Settings:
    return load_settings({**TEST_ENV, **overrides}, dotenv=None)


@dataclass(slots=True)
class Member:
    user_id: str
    email: str
    headers: Headers
    access_token: str
    refresh_token: str


@dataclass(slots=True)
class Api:
    client: AsyncTestClient[Any]
    container: Container
    members: list[Member] = field(default_factory=list)

    # --- accounts --------------------------------------------------------------------------

    async def signup(self, email: str | None = None, password: str = PASSWORD, name: str = "Tester") -> httpx.Response:
        email = email or f"user{next(_counter)}@example.com"
        return await self.client.post(
            "/api/v1/auth/signup", json={"email": email, "password": password, "display_name": name}
        )

    async def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        return await self.client.post("/api/v1/auth/login", json={"email": email, "password": password})

    async def member(self, email: str | None = None, roles: frozenset[Role] | None = None) -> Member:
        """A signed-up, logged-in user (a member unless ``roles`` says otherwise)."""
        email = email or f"member{next(_counter)}@example.com"
        created = await self.signup(email)
        assert created.status_code == 201, created.text
        user_id = created.json()["data"]["id"]
        if roles is not None:
            await self.set_roles(user_id, roles)
        logged_in = await self.login(email)
        assert logged_in.status_code == 200, logged_in.text
        tokens = logged_in.json()["data"]
        member = Member(
            user_id=user_id,
            email=email,
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
        )
        self.members.append(member)
        return member

    async def admin(self) -> Member:
        return await self.member(roles=frozenset({Role.ADMIN, Role.MEMBER}))

    async def set_roles(self, user_id: str, roles: frozenset[Role]) -> None:
        users = self.container.ports.uow.users
        user = await users.get(user_id)
        assert user is not None
        await users.update(replace(user, roles=roles), user.version)

    # --- board -----------------------------------------------------------------------------

    async def create_project(self, who: Member, **body: Any) -> dict[str, Any]:
        payload = {"title": f"Project {next(_counter)}", **body}
        response = await self.client.post("/api/v1/projects", json=payload, headers=who.headers)
        assert response.status_code == 201, response.text
        project: dict[str, Any] = response.json()["data"]
        return project

    async def create_task(self, who: Member, project_id: str, **body: Any) -> dict[str, Any]:
        payload = {"title": f"Task {next(_counter)}", **body}
        response = await self.client.post(f"/api/v1/projects/{project_id}/tasks", json=payload, headers=who.headers)
        assert response.status_code == 201, response.text
        task: dict[str, Any] = response.json()["data"]
        return task

    # --- stored state ----------------------------------------------------------------------

    async def stored_projects(self) -> list[Project]:
        """Every live project, whoever owns it."""
        page = await self.container.ports.uow.projects.list(ProjectQuery(viewer_id=None), PageRequest(size=100))
        return page.items

    async def stored_project(self, project_id: str) -> Project:
        project = await self.container.ports.uow.projects.get(project_id)
        assert project is not None
        return project

    async def stored_tasks(self, project_id: str) -> list[Task]:
        page = await self.container.ports.uow.tasks.list(TaskQuery(project_id=project_id), PageRequest(size=100))
        return page.items

    async def stored_task(self, task_id: str) -> Task:
        task = await self.container.ports.uow.tasks.get(task_id)
        assert task is not None
        return task

    async def stored_user(self, email: str) -> User | None:
        return await self.container.ports.uow.users.get_by_email(email)

    def event_count(self) -> int:
        return len(self.container.publisher.history)


def assert_error(
    response: httpx.Response,
    status: int,
    code: str,
    field: str | None = None,
) -> dict[str, Any]:
    """The response is the error envelope with this status and code (and names ``field``)."""
    assert response.status_code == status, response.text
    assert response.headers.get("x-request-id"), "every response names its request id"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"status", "error"}, body
    assert body["status"] == "error"
    error = body["error"]
    assert set(error) == {"code", "message", "details", "request_id"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    if field is not None:
        fields = [d["field"] for d in error["details"]]
        assert field in fields, error
    assert_no_internals(response)
    return error


def assert_no_internals(response: httpx.Response) -> None:
    """No stack trace, file path or exception class name ever reaches a client."""
    text = response.text
    for leak in ("Traceback", 'File "', ".py", "/work/", "site-packages", "Exception", "msgspec", "litestar"):
        assert leak not in text, f"{leak!r} leaked in {text}"


def assert_success(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers.get("x-request-id")
    body = response.json()
    assert body["status"] == "success"
    assert "data" in body
    return body["data"]


def auth(token: str) -> Mapping[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def running_api(clock: FixedClock | None = None, **settings: str) -> AsyncIterator[Api]:
    """A new app as the service builds it (``bootstrap`` + ``create_app``), with a client on it."""
    container = await bootstrap(make_settings(**settings), clock=clock)
    app = create_app(container.settings, container=container)
    try:
        async with AsyncTestClient(app) as client:
            yield Api(client=client, container=container)
    finally:
        await container.close()


@asynccontextmanager
async def api_on(app: Litestar, clock: FixedClock | None = None, **settings: str) -> AsyncIterator[Api]:
    """A client on an already built ``app``, serving a fresh container (empty stores).

    Building a Litestar app costs about a third of a second, most of it route registration,
    so the suite builds one and gives each test its own container: the lifespan puts the
    app's own container in ``app.state`` at start-up, and the test's replaces it.
    """
    container = await bootstrap(make_settings(**settings), clock=clock)
    try:
        async with AsyncTestClient(app) as client:
            app.state.container = container
            yield Api(client=client, container=container)
    finally:
        await container.close()
