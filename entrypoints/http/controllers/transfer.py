"""``POST /projects/{id}/import`` (a job) and ``GET /projects/{id}/export`` (a stream, or a job for
a large project; its file at ``GET /jobs/{id}/download``, in ``controllers/jobs``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream
from multipart import MultipartError, MultipartSegment, PushMultipartParser  # type: ignore[import-untyped]

from application.transfer import TransferService, export_filename
from domain.errors import FieldProblem, ValidationFailed
from domain.identity import Principal
from domain.jobs import Job
from domain.transfer import ImportTooLarge
from entrypoints.http.controllers.jobs import JobOut, job_response
from entrypoints.http.dependencies import AUTHENTICATED, BEARER_SECURITY, container_of
from entrypoints.http.envelope import Envelope
from entrypoints.http.errors import error_responses
from entrypoints.transfer_formats import MEDIA_TYPES, WRITERS, format_of

MULTIPART_OVERHEAD = 64 * 1024

ModeQuery = Annotated[
    Literal["atomic", "partial"],
    QueryParameter(
        description="`atomic` (default): every row or none, in one transaction. `partial`: valid rows are kept, "
        "invalid ones reported."
    ),
]
FormatQuery = Annotated[Literal["csv", "json", "xml"], QueryParameter(description="The file format.")]
DeliveryQuery = Annotated[
    Literal["auto", "job"],
    QueryParameter(
        description="`auto` (default): streamed when the project has at most `EXPORT_INLINE_MAX_TASKS` tasks, "
        "else a job (202). `job`: always a job."
    ),
]


def _transfer(request: Request[Any, Any, Any]) -> TransferService:
    jobs = container_of(request).jobs
    assert jobs is not None
    return jobs.transfer


async def _file_field(request: Request[Any, Any, Any]) -> AsyncIterator[MultipartSegment | bytes]:
    """The ``file`` part of a multipart body: its header, then its bytes (streamed, never held whole)."""
    media_type, options = request.content_type
    boundary = options.get("boundary")
    if media_type != "multipart/form-data" or not boundary:
        raise ValidationFailed([FieldProblem("body", "send multipart/form-data with a `file` field")])
    parser = PushMultipartParser(boundary.encode("latin-1"), max_segment_count=4)
    in_file = seen = False
    try:
        async for chunk in request.stream():
            for event in parser.parse(chunk):
                if isinstance(event, MultipartSegment):
                    if event.name != "file":  # the document says `file` and nothing else
                        raise ValidationFailed([FieldProblem(f"body.{event.name}", "unknown field; send only `file`")])
                    in_file = not seen
                    seen = seen or in_file
                    if in_file:
                        yield event
                elif event is None:
                    in_file = False
                elif in_file and event:
                    yield bytes(event)
            if parser.closed:
                break
    except MultipartError:
        raise ClientException("The multipart body is malformed.") from None
    if not seen:
        raise ValidationFailed([FieldProblem("body.file", "a `file` field is required")])


class TransferController(Controller):
    path = "/projects"
    tags = ["projects"]  # noqa: RUF012
    dependencies = AUTHENTICATED
    security = BEARER_SECURITY

    @post(
        "/{project_id:str}/import",
        summary="Import tasks from a file",
        description="`multipart/form-data` with one `file` field: CSV (header `title,description,tag,progress,"
        "finish_date`, UTF-8), JSON (an array of task objects) or XML (`<tasks><task><title>…</title>…</task>"
        "</tasks>`; DTDs and entities refused). At most `IMPORT_MAX_BYTES` (413 `import_too_large`). Owner or "
        "admin only. Answers 202 with the job: read `GET /api/v1/jobs/{id}` for its progress and result "
        "(`accepted`, `rejected`, `errors`: line, field, message). Every row is checked with the API's rules.",
        responses=error_responses(401, 403, 404, 413, 422),
        request_max_body_size=None,
        status_code=202,
    )
    async def import_tasks(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        project_id: FromPath[str],
        mode: ModeQuery = "atomic",
    ) -> Response[Envelope[JobOut]]:
        container = container_of(request)
        settings, service = container.settings, _transfer(request)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.import_max_bytes + MULTIPART_OVERHEAD:
            raise ImportTooLarge(f"The file is larger than IMPORT_MAX_BYTES ({settings.import_max_bytes} bytes).")
        parts = _file_field(request)
        header = await anext(parts, None)
        if not isinstance(header, MultipartSegment):
            raise ValidationFailed([FieldProblem("body.file", "a `file` field is required")])
        fmt = format_of(header.filename, header.content_type)
        await service.check_import(principal, project_id, fmt, mode)

        async def data() -> AsyncIterator[bytes]:
            async for part in parts:
                if isinstance(part, bytes):
                    yield part

        job = await service.start_import(principal, project_id, fmt or "", mode, data())
        return job_response(job, status_code=202)

    @get(
        "/{project_id:str}/export",
        summary="Export a project's tasks",
        description="The project's live tasks as CSV, JSON or XML; the file imports back unchanged. Anyone who "
        "may see the project may export it (404 otherwise). A project with at most `EXPORT_INLINE_MAX_TASKS` "
        "tasks (default 5000) is streamed in the response (200, page by page, constant memory). A larger one, "
        "or any with `delivery=job`, answers 202 with an export job (`Location`: the job): when it has "
        "succeeded, its `result.download_url` (`GET /api/v1/jobs/{id}/download`) serves the file until it "
        "expires (`EXPORT_RETENTION_SECONDS`, default a day; `result.expires_at`).",
        responses={
            202: ResponseSpec(
                data_container=Envelope[JobOut], description="The export job (large project or `delivery=job`)."
            ),
            **error_responses(401, 404, 422),
        },
    )
    async def export_tasks(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        project_id: FromPath[str],
        format: FormatQuery = "csv",
        delivery: DeliveryQuery = "auto",
    ) -> Response[Any]:
        exported = await _transfer(request).export(principal, project_id, format, delivery)
        if isinstance(exported, Job):
            return job_response(exported, status_code=202)
        return Stream(
            WRITERS[format](exported),
            media_type=MEDIA_TYPES[format],
            headers={
                "Content-Disposition": f'attachment; filename="{export_filename(project_id, format)}"',
                "Cache-Control": "private, no-store",
            },
        )
