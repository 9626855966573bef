"""One mapping from exceptions to the error envelope.

Stable error codes (the ``error.code`` field), and the status each one is sent with:

| code | status | meaning |
|---|---|---|
| `malformed_request` | 400 | the body is not valid JSON (or not decodable at all) |
| `unauthenticated` | 401 | no credentials were sent |
| `invalid_token` | 401 | the token is malformed, tampered, expired, revoked, or for another audience |
| `invalid_credentials` | 401 | wrong e-mail or password (one message for both) |
| `oidc_state_invalid` | 401 | the OIDC callback's `state` does not match this browser's state cookie (or it expired) |
| `oidc_login_failed` | 401 | the identity provider refused the code (e.g. replayed) or its ID token failed a check |
| `forbidden` | 403 | authenticated, the resource is visible, but the action is not allowed |
| `not_found` | 404 | no such resource, or not visible to the caller; also unknown routes |
| `method_not_allowed` | 405 | the route exists but not with this method |
| `conflict`, `version_conflict` | 409 | the state changed under the request |
| `task_completed` | 409 | the task reached 100 and is locked |
| `email_taken` | 409 | an account with this e-mail exists |
| `self_lockout` | 409 | an admin tried to remove their own admin role or deactivate themselves |
| `precondition_failed` | 412 | `If-Match` named a stale version |
| `payload_too_large` | 413 | the body is over the limit |
| `file_too_large` | 413 | an uploaded file is over `FILE_MAX_BYTES` (nothing is stored) |
| `range_not_satisfiable` | 416 | a `Range` starts past the end of the file |
| `import_too_large` | 413 | an import file is over `IMPORT_MAX_BYTES` (nothing is kept) |
| `unsupported_media_type` | 415 | the body's media type is not accepted, or a file's sniffed type is not allowed |
| `validation_error` | 422 | a field is missing or invalid (`details` names each field) |
| `invalid_cursor` | 422 | `cursor` was not issued for this list, its filters and sort (`details` says why) |
| `weak_password` | 422 | the password breaks the policy (`details` names the rule) |
| `idempotency_in_flight` | 409 | a request with the same `Idempotency-Key` is still running; retry later |
| `idempotency_key_reused` | 422 | the `Idempotency-Key` was used for a different request (method, path or body) |
| `rate_limited` | 429 | too many requests, or 5 failed logins for the account in 15 min (see `Retry-After`) |
| `internal_error` | 500 | a bug; the log has the trace under the same request id |
| `dependency_unavailable` | 503 | a store or service is down; retry later |
| `identity_provider_unavailable` | 503 | the OpenID provider cannot be reached; nothing was created |
| `weather_unavailable` | 503 | no OPENWEATHER_API_KEY, or the provider is down or refused our key |
| `unknown_place` | 404 | the place name geocodes to nothing |
| `no_site_location` | 409 | the project has no site location, so it has no weather |
| `unknown_site_place` | 409 | the project's site is a place name that geocodes to nothing |
| `upload_incomplete` | 409 | a chunked upload is completed while parts are missing or of the wrong size |
| `part_mismatch` | 409 | a part's number or size does not fit its chunked upload |
| `text_analysis_unavailable` | 503 | Azure AI Language failed, refused our key, or cannot be reached |
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from domain.errors import (
    Conflict,
    DependencyUnavailable,
    DomainError,
    Forbidden,
    InvalidToken,
    NotFound,
    PreconditionFailed,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from domain.files import FileTooLarge, RangeNotSatisfiable, UnsupportedFileType
from domain.transfer import ExportExpired, ImportTooLarge
from entrypoints.http.envelope import ErrorBody, ErrorDetail, ErrorEnvelope
from entrypoints.http.request import request_id

log = structlog.get_logger("trellis.http")

_DOMAIN_STATUS: list[tuple[type[DomainError], int]] = [
    (FileTooLarge, 413),  # issue 8
    (UnsupportedFileType, 415),
    (RangeNotSatisfiable, 416),
    (ImportTooLarge, 413),  # issue 10
    (ExportExpired, 410),
    (NotFound, 404),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (Conflict, 409),
    (PreconditionFailed, 412),
    (ValidationFailed, 422),
    (DependencyUnavailable, 503),
    (RateLimited, 429),
]

_HTTP_CODES = {
    400: "malformed_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    429: "rate_limited",
    503: "dependency_unavailable",
}

_HTTP_MESSAGES = {
    404: "The resource does not exist.",
    415: "Send the body as JSON with Content-Type: application/json.",
    405: "The route does not accept this method.",
    413: "The request body is too large.",
}

WWW_AUTHENTICATE = 'Bearer realm="trellis"'
RETRY_AFTER_SECONDS = "5"


def error_response(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    message: str,
    details: list[ErrorDetail] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ErrorEnvelope]:
    body = ErrorEnvelope(
        error=ErrorBody(code=code, message=message, request_id=request_id(request.scope), details=details or [])
    )
    return Response(body, status_code=status, headers=headers, media_type=MediaType.JSON)


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[ErrorEnvelope]:
    status = next((s for cls, s in _DOMAIN_STATUS if isinstance(exc, cls)), 400)
    details = [ErrorDetail(field=p.field, message=p.message) for p in getattr(exc, "problems", [])]
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = (
            f'{WWW_AUTHENTICATE}, error="invalid_token"' if isinstance(exc, InvalidToken) else WWW_AUTHENTICATE
        )
    if isinstance(exc, RangeNotSatisfiable):
        headers["Content-Range"] = f"bytes */{exc.size}"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, DependencyUnavailable):
        headers["Retry-After"] = RETRY_AFTER_SECONDS
        log.warning("dependency_unavailable", dependency=exc.dependency, request_id=request_id(request.scope))
    return error_response(request, status, exc.code, exc.message, details, headers)


def validation_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorEnvelope]:
    details: list[ErrorDetail] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        key = str(item.get("key", ""))
        raw_source = item.get("source", "body")
        source = str(getattr(raw_source, "value", raw_source))
        if key in ("", "data"):
            field = "body"
        elif key == "body" or key.startswith("body."):
            field = key
        else:
            field = f"{source}.{key}"
        details.append(ErrorDetail(field=field, message=str(item.get("message", "is invalid"))))
    message = "; ".join(f"{d.field}: {d.message}" for d in details) or "The request is not valid."
    return error_response(request, 422, "validation_error", message, details)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorEnvelope]:
    status = exc.status_code
    if status >= 500:
        return internal_error_handler(request, exc)
    code = _HTTP_CODES.get(status, "bad_request")
    message = _HTTP_MESSAGES.get(status) or (exc.detail if status < 500 else "") or "The request is not valid."
    headers = dict(exc.headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE)
    return error_response(request, status, code, message, headers=headers)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    rid = request_id(request.scope)
    log.error(
        "unhandled_exception",
        request_id=rid,
        method=request.method,
        path=request.url.path,
        exc_info=exc,
    )
    return error_response(request, 500, "internal_error", f"An internal error occurred (request id {rid}).")


EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    DomainError: domain_error_handler,
    ValidationException: validation_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}


def error_responses(*statuses: int) -> dict[int, Any]:
    """OpenAPI ``responses`` for a route's error statuses, all in the error envelope.

    400 is always listed: Litestar documents its own 400 (``status_code``/``detail``/``extra``,
    a shape this API never sends) on every route with parameters unless the route lists one.
    """
    from litestar.openapi.datastructures import ResponseSpec

    descriptions = {
        400: "Malformed request: the body is not valid JSON, or the request cannot be parsed.",
        401: "Missing, malformed, expired or revoked credentials (`WWW-Authenticate` says how to authenticate).",
        403: "Authenticated, the resource is visible, but the action is not allowed.",
        404: "No such resource, or it is not visible to the caller.",
        409: "Conflict: the task is completed, the e-mail is taken, or a concurrent change won.",
        410: "Gone: the resource existed but was removed (an expired export file).",
        412: "`If-Match` named a version that is no longer current.",
        413: "The request body is too large.",
        415: "The media type is not accepted.",
        416: "The byte range is outside the file.",
        422: "A field is missing or invalid; `error.details` names each field.",
        429: "Rate limited; `Retry-After` says when to retry.",
        503: "A dependency is unavailable; retry later (`Retry-After`).",
    }
    return {
        s: ResponseSpec(data_container=ErrorEnvelope, description=descriptions[s], generate_examples=False)
        for s in sorted({400, *statuses})
    }
