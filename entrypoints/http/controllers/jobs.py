"""``/api/v1/jobs``: the status of background jobs; the dead letters and their retry (admins); the
file an export job wrote."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Stream

from application.jobs import JobService
from domain.identity import Principal
from domain.jobs import Job, JobState
from domain.paging import PageRequest
from entrypoints.http.conditional import PRIVATE_NO_CACHE
from entrypoints.http.controllers.paging import PageQuery, SizeQuery, list_response
from entrypoints.http.dependencies import AUTHENTICATED, BEARER_SECURITY, container_of
from entrypoints.http.envelope import Envelope, ListEnvelope, ok
from entrypoints.http.errors import error_responses

StateFilter = Annotated[
    JobState | None,
    QueryParameter(name="state", description="Only jobs in this state; `failed` lists the dead letters."),
]


class JobOut(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    state: JobState
    progress: int
    result: dict[str, Any] | None
    errors: list[str]
    attempts: int
    max_attempts: int
    owner_id: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            kind=job.kind,
            state=job.state,
            progress=job.progress,
            result=job.result,
            errors=list(job.errors),
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            owner_id=job.owner_id,
            created_at=job.created_at,
            updated_at=job.updated_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


def job_service(request: Request[Any, Any, Any]) -> JobService:
    jobs = container_of(request).jobs
    assert jobs is not None
    return jobs.service


def job_response(job: Job, status_code: int = 200) -> Response[Envelope[JobOut]]:
    return Response(
        ok(JobOut.of(job)),
        status_code=status_code,
        headers={"Cache-Control": PRIVATE_NO_CACHE, "Location": f"/api/v1/jobs/{job.id}"},
    )


class JobController(Controller):
    path = "/jobs"
    tags = ["jobs"]  # noqa: RUF012
    dependencies = AUTHENTICATED
    security = BEARER_SECURITY

    @get(
        "/{job_id:str}",
        summary="Read a job's status",
        description="`state` (`queued`, `running`, `succeeded`, `failed`), `progress` 0–100, `result` (an import's "
        "accepted count and per-row errors) and `errors` (one per failed attempt). Only the job's owner and admins "
        "see it; to anyone else it does not exist (404).",
        responses=error_responses(401, 404),
    )
    async def get_job(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], job_id: FromPath[str]
    ) -> Response[Envelope[JobOut]]:
        return job_response(await job_service(request).get(principal, job_id))

    @get(
        "/",
        summary="List jobs (admins)",
        description="Every job, newest first; `state=failed` lists the dead letters (jobs whose retries are "
        "spent). Admins only (403 otherwise).",
        responses=error_responses(401, 403, 422),
    )
    async def list_jobs(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        page: PageQuery = 1,
        size: SizeQuery = 20,
        job_state: StateFilter = None,  # `state` is a reserved Litestar kwarg; the query name stays `state`
    ) -> Response[ListEnvelope[JobOut]]:
        found = await job_service(request).list(principal, job_state, PageRequest(page=page, size=size))
        return list_response(request, found, [JobOut.of(j) for j in found.items])

    @post(
        "/{job_id:str}/retry",
        summary="Retry a failed job (admins)",
        description="Puts a dead letter back in the queue with its attempts reset; 409 when the job has not "
        "failed. Answers 202 with the job.",
        responses=error_responses(401, 403, 404, 409),
        status_code=202,
    )
    async def retry_job(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], job_id: FromPath[str]
    ) -> Response[Envelope[JobOut]]:
        return job_response(await job_service(request).retry(principal, job_id), status_code=202)

    @get(
        "/{job_id:str}/download",
        summary="Download an export job's file",
        description="The file a succeeded export job (`GET /projects/{id}/export`, answered 202) wrote, with "
        "its `Content-Type` and a `Content-Disposition` file name. Only the job's owner and admins (404 "
        "otherwise, and for a job that is not an export); 409 `export_not_ready` while the job is queued or "
        "running, or when it failed; 410 `export_expired` once the file was removed "
        "(`EXPORT_RETENTION_SECONDS`). On Azure, `?redirect=1` answers 307 to a short-lived read-only SAS URL.",
        responses=error_responses(401, 404, 409, 410, 422),  # 422: a `redirect` that is not a boolean
    )
    async def download(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        job_id: FromPath[str],
        redirect: FromQuery[bool] = False,
    ) -> Response[Any]:
        from entrypoints.transfer_formats import MEDIA_TYPES

        jobs = container_of(request).jobs
        assert jobs is not None
        transfer = jobs.transfer
        found = await transfer.download(principal, job_id)
        media_type = MEDIA_TYPES[found.format]
        if redirect and (url := await transfer.download_url(found, media_type)) is not None:
            return Redirect(url, status_code=307, headers={"Cache-Control": "no-store"})
        return Stream(
            await transfer.content(found),
            media_type=media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{found.filename}"',
                "Content-Length": str(found.size),
                "Cache-Control": "private, no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )
