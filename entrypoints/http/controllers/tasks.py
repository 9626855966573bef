"""``/api/v1/tasks/{id}``: read, change and delete single tasks."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from domain.board import Task, TaskChanges
from domain.identity import Principal
from entrypoints.http.conditional import PRIVATE_NO_CACHE, etag, expected_version, not_modified
from entrypoints.http.dependencies import AUTHENTICATED, BEARER_SECURITY, container_of
from entrypoints.http.envelope import Envelope, ok
from entrypoints.http.errors import error_responses
from entrypoints.http.schemas import TaskOut, TaskPatchIn, TaskReplaceIn


def task_response(task: Task) -> Response[Envelope[TaskOut]]:
    return Response(ok(TaskOut.of(task)), headers={"ETag": etag(task.version), "Cache-Control": PRIVATE_NO_CACHE})


class TaskController(Controller):
    path = "/tasks"
    tags = ["tasks"]  # noqa: RUF012
    dependencies = AUTHENTICATED
    security = BEARER_SECURITY

    @get(
        "/{task_id:str}",
        summary="Read a task",
        description="A task of a project the caller may see (otherwise 404). Sends a strong `ETag`; "
        "`If-None-Match` with it answers 304.",
        responses=error_responses(401, 404),
    )
    async def get_task(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], task_id: FromPath[str]
    ) -> Response[Any]:
        task = await container_of(request).tasks.get(principal, task_id)
        if not_modified(request, task.version):
            return Response(None, status_code=304, headers={"ETag": etag(task.version)})
        return task_response(task)

    @put(
        "/{task_id:str}",
        summary="Replace a task",
        description="Replaces every client-writable field (absent optional fields are cleared). Project owner or "
        "admin only. A completed task (progress 100) refuses every change with 409 `task_completed`. "
        "`If-Match` makes the change conditional (412 when stale).",
        responses=error_responses(400, 401, 403, 404, 409, 412, 422),
    )
    async def replace_task(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        task_id: FromPath[str],
        data: JSONBody[TaskReplaceIn],
    ) -> Response[Envelope[TaskOut]]:
        changes = TaskChanges(
            title=data.title,
            description=data.description,
            tag=data.tag,
            clear_tag=data.tag is None,
            progress=data.progress,
            finish_date=data.finish_date,
            clear_finish_date=data.finish_date is None,
        )
        task = await container_of(request).tasks.update(principal, task_id, changes, expected_version(request))
        return task_response(task)

    @patch(
        "/{task_id:str}",
        summary="Change some fields of a task",
        description="Changes only the fields present; `null` clears `tag` or `finish_date`. Setting `progress` "
        "to 100 completes and locks the task. Project owner or admin only; 409 `task_completed` once locked.",
        responses=error_responses(400, 401, 403, 404, 409, 412, 422),
    )
    async def patch_task(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        task_id: FromPath[str],
        data: JSONBody[TaskPatchIn],
    ) -> Response[Envelope[TaskOut]]:
        changes = TaskChanges(
            title=_given(data.title),
            description=_given(data.description),
            tag=_given(data.tag),
            clear_tag=data.tag is None,
            progress=_given(data.progress),
            finish_date=_given(data.finish_date),
            clear_finish_date=data.finish_date is None,
        )
        task = await container_of(request).tasks.update(principal, task_id, changes, expected_version(request))
        return task_response(task)

    @delete(
        "/{task_id:str}",
        summary="Delete a task",
        description="Soft-deletes the task and recomputes its project's progress in the same transaction. "
        "A completed task cannot be deleted (409 `task_completed`). Answers 200 with `data: null`.",
        responses=error_responses(401, 403, 404, 409, 412),
        status_code=200,
    )
    async def delete_task(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], task_id: FromPath[str]
    ) -> Envelope[None]:
        await container_of(request).tasks.delete(principal, task_id, expected_version(request))
        return ok(None)


def _given(value: Any) -> Any:
    return None if isinstance(value, msgspec.UnsetType) else value
