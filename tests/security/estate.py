"""What the attacks in this suite aim at: one member's objects of every kind, made through the API.

``Estate.build`` signs nothing up itself: it is handed a signed-in member (the victim) and makes,
over HTTP, a personal project with a task, a public project with a task, a post on the personal
project, a collection holding it, a file attached to the personal task, a resumable upload, and a
finished import job. ``snapshot`` is the victim's own view of all of it (and the bytes of the
file), so a test can show an attack changed nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute

from tests.integration.http.helpers import Api, Member

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(2000)
CSV = b"title,progress\r\nImported,10\r\n"
_PARAM_TYPE = re.compile(r":[^}]*}")


def template(path: str) -> str:
    """``/api/v1/projects/{project_id:str}`` -> ``/api/v1/projects/{project_id}``."""
    return _PARAM_TYPE.sub("}", path)


def http_operations(app: Litestar) -> list[tuple[str, str]]:
    """Every (method, path template) the app routes, OPTIONS (Litestar's automatic answer) aside."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                found.update((m, template(route.path)) for m in handler.http_methods if m != "OPTIONS")
    return sorted(found, key=lambda op: (op[1], op[0]))


async def until(check: Any, what: str, within: float = 10.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"{what} never happened")


@dataclass(slots=True)
class Estate:
    owner: Member
    ids: dict[str, str]  # path parameter name -> the owner's object of that kind
    public_project: str
    public_task: str
    titles: list[str]  # strings only the owner's objects contain (a response naming one leaked it)

    @classmethod
    async def build(cls, api: Api, owner: Member) -> Estate:
        c, h = api.client, owner.headers
        project = await api.create_project(
            owner, title="Victim secret project", description="only mine", site={"place": "Oslo"}
        )
        task = await api.create_task(owner, project["id"], title="Victim secret task", tag="secret")
        public = await api.create_project(owner, title="Victim public project", visibility="public")
        public_task = await api.create_task(owner, public["id"], title="Victim public task")
        post = await c.post(
            "/api/v1/posts",
            json={"title": "Victim secret post", "body": "great news", "project_id": project["id"]},
            headers=h,
        )
        assert post.status_code == 201, post.text
        post_id = post.json()["data"]["id"]
        collection = await c.post("/api/v1/collections", json={"name": "Victim secret collection"}, headers=h)
        assert collection.status_code == 201, collection.text
        collection_id = collection.json()["data"]["id"]
        added = await c.post(f"/api/v1/collections/{collection_id}/posts", json={"post_id": post_id}, headers=h)
        assert added.status_code in (200, 201), added.text
        file = await c.post(
            "/api/v1/files",
            data={"task_id": task["id"]},
            files={"file": ("victim-secret.png", PNG, "image/png")},
            headers=h,
        )
        assert file.status_code == 201, file.text
        upload = await c.post("/api/v1/files/uploads", json={"name": "victim-part.png", "size": 16}, headers=h)
        assert upload.status_code == 201, upload.text
        job = await c.post(
            f"/api/v1/projects/{project['id']}/import",
            files={"file": ("tasks.csv", CSV, "text/csv")},
            headers=h,
        )
        assert job.status_code == 202, job.text
        job_id = job.json()["data"]["id"]
        estate = cls(
            owner=owner,
            ids={
                "project_id": project["id"],
                "task_id": task["id"],
                "post_id": post_id,
                "collection_id": collection_id,
                "file_id": file.json()["data"]["id"],
                "upload_id": upload.json()["data"]["id"],
                "job_id": job_id,
                "user_id": owner.user_id,
                "number": "1",
            },
            public_project=public["id"],
            public_task=public_task["id"],
            titles=["Victim secret", "victim-secret.png", "only mine"],
        )
        await estate.settle(api)
        return estate

    async def settle(self, api: Api) -> None:
        """Wait for what the estate set off in the background (the import, the post's analysis)."""
        c, h = api.client, self.owner.headers

        async def job_done() -> bool:
            job = (await c.get(f"/api/v1/jobs/{self.ids['job_id']}", headers=h)).json()["data"]
            return job["state"] in ("succeeded", "failed")

        async def analysed() -> bool:
            post = (await c.get(f"/api/v1/posts/{self.ids['post_id']}", headers=h)).json()["data"]
            return post["analysis"] is not None and post["analysis"]["status"] != "pending"

        await until(job_done, "the import job finishing")
        await until(analysed, "the post's analysis")

    async def snapshot(self, api: Api) -> dict[str, Any]:
        """The owner's view of everything in the estate (as JSON), and the file's bytes."""
        c, h, ids = api.client, self.owner.headers, self.ids
        paths = {
            "project": f"/api/v1/projects/{ids['project_id']}",
            "tasks": f"/api/v1/projects/{ids['project_id']}/tasks?size=100",
            "public project": f"/api/v1/projects/{self.public_project}",
            "public tasks": f"/api/v1/projects/{self.public_project}/tasks?size=100",
            "post": f"/api/v1/posts/{ids['post_id']}",
            "collection": f"/api/v1/collections/{ids['collection_id']}",
            "file": f"/api/v1/files/{ids['file_id']}",
            "upload": f"/api/v1/files/uploads/{ids['upload_id']}",
            "job": f"/api/v1/jobs/{ids['job_id']}",
            "me": "/api/v1/auth/me",
        }
        seen: dict[str, Any] = {}
        for name, path in paths.items():
            response = await c.get(path, headers=h)
            assert response.status_code == 200, (name, response.text)
            seen[name] = response.json()["data"]
        content = await c.get(f"/api/v1/files/{ids['file_id']}/content", headers=h)
        assert content.status_code == 200
        seen["file bytes"] = hashlib.sha256(content.content).hexdigest()
        return seen
