"""``/api/v1/projects``: the board's projects and the tasks listed under them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from application.projects import NewProject
from application.tasks import NewTask
from domain.board import ProjectChanges, Visibility
from domain.identity import Principal
from domain.paging import PROJECT_SORT_FIELDS, TASK_SORT_FIELDS, Sort, page_request
from entrypoints.http.conditional import PRIVATE_NO_CACHE, etag, expected_version, not_modified
from entrypoints.http.controllers.paging import (
    SORT_DESCRIPTION,
    CursorQuery,
    PageQuery,
    SizeQuery,
    cursor_list_response,
    cursor_paging,
    list_response,
    sort_pattern,
)
from entrypoints.http.dependencies import AUTHENTICATED, BEARER_SECURITY, container_of
from entrypoints.http.envelope import CursorListEnvelope, Envelope, ListEnvelope, ok
from entrypoints.http.errors import error_responses
from entrypoints.http.schemas import (
    ProjectCreateIn,
    ProjectListItemOut,
    ProjectOut,
    ProjectPatchIn,
    ProjectReplaceIn,
    TaskCreateIn,
    TaskOut,
)

ProjectSort = Annotated[
    str | None,
    QueryParameter(
        description=SORT_DESCRIPTION.format(fields=", ".join(sorted(PROJECT_SORT_FIELDS))),
        max_length=40,
        schema_extra=sort_pattern(PROJECT_SORT_FIELDS),
    ),
]
TaskSort = Annotated[
    str | None,
    QueryParameter(
        description=SORT_DESCRIPTION.format(fields=", ".join(sorted(TASK_SORT_FIELDS))),
        max_length=40,
        schema_extra=sort_pattern(TASK_SORT_FIELDS),
    ),
]
VisibilityFilter = Annotated[Visibility | None, QueryParameter(description="Only projects with this visibility.")]
TitleSearch = Annotated[
    str | None, QueryParameter(description="Case-insensitive substring of the title.", min_length=1, max_length=200)
]
TagFilter = Annotated[
    str | None, QueryParameter(description="Only tasks with exactly this tag.", min_length=1, max_length=50)
]
IncludeQuery = Annotated[
    Literal["stats"] | None,
    QueryParameter(
        description="`stats` adds to each listed project `stats`: its live tasks' `task_count`, `completed` (at "
        "progress 100) and `by_tag` counts, computed for the whole page at once. Absent: no `stats` field."
    ),
]
DEFAULT_SORT = Sort("created_at", descending=True)


def project_response(project: Any, status_code: int = 200, location: bool = False) -> Response[Envelope[ProjectOut]]:
    headers = {"ETag": etag(project.version), "Cache-Control": PRIVATE_NO_CACHE}
    if location:
        headers["Location"] = f"/api/v1/projects/{project.id}"
    return Response(ok(ProjectOut.of(project)), status_code=status_code, headers=headers)


class ProjectController(Controller):
    path = "/projects"
    tags = ["projects"]  # noqa: RUF012
    dependencies = AUTHENTICATED
    security = BEARER_SECURITY

    @get(
        "/",
        summary="List projects",
        description="Projects the caller may see: their own and every public one (admins see all). Filter by "
        "`visibility` and by `q` (title substring); sort by a whitelisted field. Paging is in `meta` and in "
        "the `Link` header: `page`/`size`, or `cursor` (keyset: `cursor=` for the first page, then "
        "`meta.next_cursor`; no total). `include=stats` adds each project's task statistics.",
        responses=error_responses(401, 422),
    )
    async def list_projects(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        page: PageQuery = 1,
        size: SizeQuery = 20,
        sort: ProjectSort = None,
        visibility: VisibilityFilter = None,
        q: TitleSearch = None,
        include: IncludeQuery = None,
        cursor: CursorQuery = None,
    ) -> Response[ListEnvelope[ProjectListItemOut] | CursorListEnvelope[ProjectListItemOut]]:
        projects = container_of(request).projects
        if cursor is not None:
            keyset = cursor_paging(
                request, cursor, size, sort, PROJECT_SORT_FIELDS, DEFAULT_SORT, "projects", visibility, q
            )
            listed = await projects.list_keyset(
                principal, keyset.page, visibility=visibility, q=q, include_stats=include == "stats"
            )
            by_id = listed.stats
            rows = [ProjectListItemOut.listed(p, None if by_id is None else by_id.get(p.id)) for p in listed.items]
            return cursor_list_response(request, keyset, listed, rows)
        paging = page_request(page, size, sort, PROJECT_SORT_FIELDS, DEFAULT_SORT)
        found = await projects.list(principal, paging, visibility=visibility, q=q, include_stats=include == "stats")
        stats = found.stats
        items = [ProjectListItemOut.listed(p, None if stats is None else stats.get(p.id)) for p in found.items]
        paged: Response[Any] = list_response(request, found, items)
        return paged

    @post(
        "/",
        summary="Create a project",
        description="Creates a project owned by the caller (members and admins; guests get 403). `progress` "
        "is derived from the tasks and cannot be set.",
        responses=error_responses(400, 401, 403, 422),
    )
    async def create_project(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], data: JSONBody[ProjectCreateIn]
    ) -> Response[Envelope[ProjectOut]]:
        new = NewProject(
            title=data.title,
            description=data.description,
            visibility=data.visibility,
            finish_date=data.finish_date,
            site=data.site.to_domain() if data.site is not None else None,
        )
        project = await container_of(request).projects.create(principal, new)
        return project_response(project, status_code=201, location=True)

    @get(
        "/{project_id:str}",
        summary="Read a project",
        description="A project the caller may see (a personal project of someone else is a 404). Sends a strong "
        "`ETag`; `If-None-Match` with it answers 304.",
        responses=error_responses(401, 404),
    )
    async def get_project(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], project_id: FromPath[str]
    ) -> Response[Any]:
        project = await container_of(request).projects.get(principal, project_id)
        if not_modified(request, project.version):
            return Response(None, status_code=304, headers={"ETag": etag(project.version)})
        return project_response(project)

    @put(
        "/{project_id:str}",
        summary="Replace a project",
        description="Replaces every client-writable field (absent optional fields are cleared). Owner or admin "
        "only. `If-Match` makes the change conditional (412 when stale).",
        responses=error_responses(400, 401, 403, 404, 409, 412, 422),
    )
    async def replace_project(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        project_id: FromPath[str],
        data: JSONBody[ProjectReplaceIn],
    ) -> Response[Envelope[ProjectOut]]:
        changes = ProjectChanges(
            title=data.title,
            description=data.description,
            visibility=data.visibility,
            finish_date=data.finish_date,
            clear_finish_date=data.finish_date is None,
            site=data.site.to_domain() if data.site is not None else None,
            clear_site=data.site is None,
        )
        project = await container_of(request).projects.update(principal, project_id, changes, expected_version(request))
        return project_response(project)

    @patch(
        "/{project_id:str}",
        summary="Change some fields of a project",
        description="Changes only the fields present; `null` clears `finish_date` or `site`. Owner or admin "
        "only. `If-Match` makes the change conditional (412 when stale).",
        responses=error_responses(400, 401, 403, 404, 409, 412, 422),
    )
    async def patch_project(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        project_id: FromPath[str],
        data: JSONBody[ProjectPatchIn],
    ) -> Response[Envelope[ProjectOut]]:
        site = data.site
        changes = ProjectChanges(
            title=_given(data.title),
            description=_given(data.description),
            visibility=_given(data.visibility),
            finish_date=_given(data.finish_date),
            clear_finish_date=data.finish_date is None,
            site=site.to_domain() if not isinstance(site, msgspec.UnsetType) and site is not None else None,
            clear_site=site is None,
        )
        project = await container_of(request).projects.update(principal, project_id, changes, expected_version(request))
        return project_response(project)

    @delete(
        "/{project_id:str}",
        summary="Delete a project",
        description="Soft-deletes the project and its tasks in one transaction. Owner or admin only. Answers "
        "200 with `data: null`.",
        responses=error_responses(401, 403, 404, 412),
        status_code=200,
    )
    async def delete_project(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], project_id: FromPath[str]
    ) -> Envelope[None]:
        await container_of(request).projects.delete(principal, project_id, expected_version(request))
        return ok(None)

    @get(
        "/{project_id:str}/tasks",
        summary="List a project's tasks",
        description="Tasks of a project the caller may see, optionally only those with `tag`. Two ways to page: "
        "`page`/`size` (with `meta.total`), or `cursor` (keyset: `cursor=` for the first page, then "
        "`meta.next_cursor`; no total, and page 1,000 costs what page 1 does).",
        responses=error_responses(401, 404, 422),
    )
    async def list_tasks(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        project_id: FromPath[str],
        page: PageQuery = 1,
        size: SizeQuery = 20,
        sort: TaskSort = None,
        tag: TagFilter = None,
        cursor: CursorQuery = None,
    ) -> Response[ListEnvelope[TaskOut] | CursorListEnvelope[TaskOut]]:
        if cursor is not None:
            keyset = cursor_paging(
                request, cursor, size, sort, TASK_SORT_FIELDS, Sort("created_at"), "tasks", project_id, tag
            )
            listed = await container_of(request).tasks.list_keyset(principal, project_id, keyset.page, tag=tag)
            return cursor_list_response(request, keyset, listed, [TaskOut.of(t) for t in listed.items])
        paging = page_request(page, size, sort, TASK_SORT_FIELDS, Sort("created_at"))
        found = await container_of(request).tasks.list(principal, project_id, paging, tag=tag)
        paged: Response[Any] = list_response(request, found, [TaskOut.of(t) for t in found.items])
        return paged

    @post(
        "/{project_id:str}/tasks",
        summary="Add a task to a project",
        description="Owner or admin of the project only. The project's progress is recomputed in the same "
        "transaction. A task created at progress 100 is completed (and locked) from the start.",
        responses=error_responses(400, 401, 403, 404, 422),
    )
    async def create_task(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        project_id: FromPath[str],
        data: JSONBody[TaskCreateIn],
    ) -> Response[Envelope[TaskOut]]:
        new = NewTask(
            title=data.title,
            description=data.description,
            tag=data.tag,
            progress=data.progress,
            finish_date=data.finish_date,
        )
        task = await container_of(request).tasks.create(principal, project_id, new)
        headers = {"Location": f"/api/v1/tasks/{task.id}", "ETag": etag(task.version)}
        return Response(ok(TaskOut.of(task)), status_code=201, headers=headers)


def _given(value: Any) -> Any:
    """UNSET (absent) and None (clear) both mean "no new value" for a field's setter."""
    return None if isinstance(value, msgspec.UnsetType) else value
