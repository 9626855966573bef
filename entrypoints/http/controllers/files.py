"""``/api/v1/files``: validated uploads, guarded streamed downloads, resumable chunked uploads."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Stream
from multipart import MultipartError, MultipartSegment, PushMultipartParser  # type: ignore[import-untyped]

from application.files import FileService, PendingFile
from domain.errors import FieldProblem, ValidationFailed
from domain.files import FileTooLarge, PartMismatch, StoredFile, ascii_fallback, parse_range
from domain.identity import Principal
from entrypoints.http.dependencies import AUTHENTICATED, BEARER_SECURITY, container_of
from entrypoints.http.envelope import Envelope, ok
from entrypoints.http.errors import error_responses

MULTIPART_OVERHEAD = 64 * 1024  # headers, boundaries and small fields around the file


class FileOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    content_type: str
    size: int
    sha256: str
    task_id: str | None
    post_id: str | None
    download_url: str
    created_at: str

    @classmethod
    def of(cls, stored: StoredFile) -> FileOut:
        return cls(
            id=stored.id,
            name=stored.name,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
            task_id=stored.task_id,
            post_id=stored.post_id,
            download_url=f"/api/v1/files/{stored.id}/content",
            created_at=stored.created_at.isoformat(),
        )


class UploadIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    size: int
    part_size: int | None = None
    type: str | None = None  # informational: the type is sniffed from the bytes at completion
    task_id: str | None = None
    post_id: str | None = None


class UploadOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    size: int
    part_size: int
    part_count: int
    received_parts: list[int]
    missing_parts: list[int]


class PartOut(msgspec.Struct, kw_only=True):
    number: int
    size: int


def _service(request: Request[Any, Any, Any]) -> FileService:
    service = container_of(request).files
    assert service is not None
    return service


def _file_response(stored: StoredFile, status_code: int = 200) -> Response[Envelope[FileOut]]:
    headers = {"Cache-Control": "private, no-cache", "ETag": f'"{stored.sha256}"'}
    if status_code == 201:
        headers["Location"] = f"/api/v1/files/{stored.id}"
    return Response(ok(FileOut.of(stored)), status_code=status_code, headers=headers)


def _upload_out(stored: StoredFile, staged: dict[int, int]) -> UploadOut:
    received = sorted(n for n, size in staged.items() if 1 <= n <= stored.part_count)
    missing = [n for n in range(1, stored.part_count + 1) if n not in staged]
    return UploadOut(
        id=stored.id,
        name=stored.name,
        size=stored.size,
        part_size=stored.part_size,
        part_count=stored.part_count,
        received_parts=received,
        missing_parts=missing,
    )


class _Multipart:
    """A streaming ``multipart/form-data`` reader over the request body (never held whole)."""

    def __init__(self, request: Request[Any, Any, Any]) -> None:
        media_type, options = request.content_type
        boundary = options.get("boundary")
        if media_type != "multipart/form-data" or not boundary:
            raise ValidationFailed([FieldProblem("body", "send multipart/form-data with a `file` field")])
        self._stream = request.stream()
        self._parser = PushMultipartParser(boundary.encode("latin-1"), max_segment_count=16)

    async def events(self) -> AsyncIterator[MultipartSegment | bytes | None]:
        """A segment header, then its data chunks, then None at its end; repeated."""
        try:
            async for chunk in self._stream:
                for event in self._parser.parse(chunk):
                    yield event if not isinstance(event, bytearray) else bytes(event)
                if self._parser.closed:
                    break
            for event in self._parser.parse(b""):
                yield event if not isinstance(event, bytearray) else bytes(event)
        except MultipartError:
            raise ClientException("The multipart body is malformed.") from None


async def _segment_data(events: AsyncIterator[MultipartSegment | bytes | None]) -> AsyncIterator[bytes]:
    async for event in events:
        if event is None:
            return
        if isinstance(event, bytes) and event:
            yield event


async def _text(events: AsyncIterator[MultipartSegment | bytes | None], limit: int = 1024) -> str:
    value = bytearray()
    async for chunk in _segment_data(events):
        value.extend(chunk)
        if len(value) > limit:
            raise ValidationFailed([FieldProblem("body", "a form field is too long")])
    return value.decode("utf-8", "replace")


def _sha256_of_digest(header: str | None) -> str:
    """``Content-Digest: sha-256=:<base64>:`` (RFC 9530), or ``X-Checksum-SHA256: <hex>``."""
    if header:
        for item in header.split(","):
            name, _, value = item.strip().partition("=")
            if name.strip().lower() == "sha-256" and value.startswith(":") and value.endswith(":"):
                try:
                    return base64.b64decode(value[1:-1], validate=True).hex()
                except (binascii.Error, ValueError):
                    break
    raise ValidationFailed([FieldProblem("header.content-digest", "send Content-Digest: sha-256=:<base64>:")])


class FileController(Controller):
    path = "/files"
    tags = ["files"]  # noqa: RUF012
    dependencies = AUTHENTICATED
    security = BEARER_SECURITY

    @post(
        "/",
        summary="Upload a file",
        description="`multipart/form-data` with one `file` field (and an optional `task_id` or `post_id` field, "
        "not both; best sent before `file`, which saves a move of the stored bytes): the task's project, or the "
        "post, must be one the caller may change. Streamed to storage, limited to "
        "`FILE_MAX_BYTES` (413 `file_too_large`); the type is sniffed from the bytes and must be allowed "
        "(415 `unsupported_media_type`); the name is sanitised. 201 with the file and its download URL.",
        responses=error_responses(401, 403, 404, 413, 415, 422),
        request_max_body_size=None,
        status_code=201,
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
    ) -> Response[Envelope[FileOut]]:
        service = _service(request)
        for name in ("task_id", "post_id"):  # once query parameters too; now form fields only, so said loudly
            if name in request.query_params:
                raise ValidationFailed(
                    [FieldProblem(f"query.{name}", f"send `{name}` as a form field, not a query parameter")]
                )
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > service.limits.max_bytes + MULTIPART_OVERHEAD:
            raise FileTooLarge(f"The file is larger than {service.limits.max_bytes} bytes.")
        events = _Multipart(request).events()
        fields: dict[str, str] = {}
        pending: PendingFile | None = None
        late = False
        try:
            async for event in events:
                if not isinstance(event, MultipartSegment):
                    continue
                if event.name == "file":
                    if pending is not None:
                        raise ValidationFailed([FieldProblem("body.file", "send exactly one `file` field")])
                    chosen_task = fields.get("task_id") or None
                    chosen_post = fields.get("post_id") or None
                    pending = await service.upload(
                        principal, event.filename, _segment_data(events), chosen_task, chosen_post
                    )
                elif event.name in ("task_id", "post_id"):
                    fields[event.name] = await _text(events)  # as sent: an id is opaque, "" is no id
                    if not fields[event.name]:
                        raise ValidationFailed([FieldProblem(f"body.{event.name}", "must not be empty")])
                    late = late or pending is not None
                else:
                    raise ValidationFailed([FieldProblem(f"body.{event.name}", "unknown field")])
            if pending is None:
                raise ValidationFailed([FieldProblem("body.file", "a `file` field is required")])
            if late:  # parts may come in any order: a task or post named after the bytes (a rare, costlier move)
                pending = await service.attach_late(
                    principal, pending, fields.get("task_id") or None, fields.get("post_id") or None
                )
            stored = await service.commit(principal, pending)
        except BaseException:
            if pending is not None:
                await service.discard(pending)
            raise
        return _file_response(stored, 201)

    @get(
        "/{file_id:str}",
        summary="Read a file's metadata",
        description="Name, sniffed type, size, SHA-256 and download URL of a file the caller may see (the task's "
        "project is visible to them, or the file is theirs); otherwise 404.",
        responses=error_responses(401, 404),
    )
    async def get_file(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], file_id: FromPath[str]
    ) -> Response[Envelope[FileOut]]:
        return _file_response(await _service(request).get(principal, file_id))

    @get(
        "/{file_id:str}/content",
        summary="Download a file",
        description="Streams the bytes with `Content-Type`, `Content-Disposition: attachment`, a strong `ETag` "
        "(the SHA-256) and `Accept-Ranges: bytes`; one `Range: bytes=a-b` answers 206 (416 past the end). "
        "On Azure, `?redirect=1` answers 307 to a short-lived read-only SAS URL instead.",
        responses=error_responses(401, 404, 416, 422),
    )
    async def content(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        file_id: FromPath[str],
        redirect: FromQuery[bool] = False,
    ) -> Response[Any]:
        service = _service(request)
        stored = await service.get(principal, file_id)
        if redirect and (url := await service.read_url(principal, file_id)) is not None:
            return Redirect(url, status_code=307, headers={"Cache-Control": "no-store"})
        etag = f'"{stored.sha256}"'
        headers = {
            "Content-Disposition": f'attachment; filename="{ascii_fallback(stored.name)}"; '
            f"filename*=UTF-8''{quote(stored.name, safe='')}",
            "ETag": etag,
            "Accept-Ranges": "bytes",
            "Cache-Control": "private, no-cache",
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("if-none-match") == etag:
            return Response(None, status_code=304, headers=headers)
        if_range = request.headers.get("if-range")
        byte_range = None
        if if_range is None or if_range == etag:
            byte_range = parse_range(request.headers.get("range"), stored.size)
        chunks = await service.content(principal, file_id, byte_range)
        if byte_range is None:
            headers["Content-Length"] = str(stored.size)
            return Stream(chunks, media_type=stored.content_type, headers=headers)
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{stored.size}"
        headers["Content-Length"] = str(byte_range.length)
        return Stream(chunks, status_code=206, media_type=stored.content_type, headers=headers)

    @delete(
        "/{file_id:str}",
        summary="Delete a file",
        description="Soft-deletes the record at once (the file is gone for every reader); the blob is removed "
        "after the response. The file's owner, the project's owner, or an admin.",
        responses=error_responses(401, 403, 404),
        status_code=200,
    )
    async def delete_file(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], file_id: FromPath[str]
    ) -> Response[Envelope[None]]:
        service = _service(request)
        deleted = await service.delete(principal, file_id)
        return Response(ok(None), background=BackgroundTask(service.remove_blob, deleted.storage_key))

    # --- chunked uploads -----------------------------------------------------------------------

    @post(
        "/uploads",
        summary="Start a resumable upload",
        description="Declares `name`, `size` (bytes) and optionally `part_size` and `task_id`; answers the "
        "upload id, the part size and how many parts to send.",
        responses=error_responses(401, 403, 404, 413, 422),
        status_code=201,
    )
    async def start_upload(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], data: JSONBody[UploadIn]
    ) -> Response[Envelope[UploadOut]]:
        stored = await _service(request).start_upload(
            principal, data.name, data.size, data.part_size, data.task_id, data.post_id
        )
        return Response(
            ok(_upload_out(stored, {})),
            status_code=201,
            headers={"Location": f"/api/v1/files/uploads/{stored.id}"},
        )

    @get(
        "/uploads/{upload_id:str}",
        summary="Show a resumable upload",
        description="Which parts were received (and which are missing), so a client can resume.",
        responses=error_responses(401, 404),
    )
    async def upload_status(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], upload_id: FromPath[str]
    ) -> Response[Envelope[UploadOut]]:
        stored, staged = await _service(request).upload_status(principal, upload_id)
        return Response(ok(_upload_out(stored, staged)))

    @put(
        "/uploads/{upload_id:str}/parts/{number:int}",
        summary="Send one part",
        description="The raw bytes of part `number` (1-based; every part is `part_size` bytes but the last) with "
        "`Content-Digest: sha-256=:<base64>:`. Retrying a part replaces it; parts may come in any order. 409 "
        "`part_mismatch` when the number or the size does not fit the upload (the upload's `part_count` and "
        "`part_size` say what fits); 422 when the digest is missing or does not match the bytes.",
        responses=error_responses(401, 404, 409, 413, 422),
        request_max_body_size=None,
    )
    async def put_part(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        upload_id: FromPath[str],
        number: FromPath[int],
    ) -> Response[Envelope[PartOut]]:
        service = _service(request)
        stored, _ = await service.upload_status(principal, upload_id)
        limit = stored.part_size
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise PartMismatch(f"A part of this upload is at most {limit} bytes.")
        digest = _sha256_of_digest(request.headers.get("content-digest"))
        size = await service.put_part(principal, upload_id, number, bytes(body), digest)
        return Response(ok(PartOut(number=number, size=size)))

    @post(
        "/uploads/{upload_id:str}/complete",
        summary="Complete a resumable upload",
        description="Joins the parts in order, checks the total size and the sniffed type (415 when not allowed; "
        "the upload is then dropped) and answers the file. 409 `upload_incomplete` while a part is missing or "
        "has the wrong size (`GET /files/uploads/{id}` lists them); send it and complete again.",
        responses=error_responses(401, 404, 409, 415, 422),
        status_code=201,
    )
    async def complete_upload(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], upload_id: FromPath[str]
    ) -> Response[Envelope[FileOut]]:
        return _file_response(await _service(request).complete_upload(principal, upload_id), 201)
