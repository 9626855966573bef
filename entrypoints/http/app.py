"""The Litestar application factory."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, Router, get
from litestar.config.cors import CORSConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme, Tag
from litestar.types import Message, Scope

from application.files import FileLimits
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.http import openapi_rules
from entrypoints.http.controllers.analysis import AnalysisController
from entrypoints.http.controllers.auth import AuthController
from entrypoints.http.controllers.collections import CollectionController
from entrypoints.http.controllers.files import FileController
from entrypoints.http.controllers.health import HealthController
from entrypoints.http.controllers.jobs import JobController
from entrypoints.http.controllers.oidc import OidcController
from entrypoints.http.controllers.posts import PostController
from entrypoints.http.controllers.projects import ProjectController
from entrypoints.http.controllers.tasks import TaskController
from entrypoints.http.controllers.transfer import TransferController
from entrypoints.http.controllers.users import UserController
from entrypoints.http.controllers.weather import ProjectWeatherController, WeatherController
from entrypoints.http.errors import EXCEPTION_HANDLERS
from entrypoints.http.idempotency import idempotency_middleware
from entrypoints.http.ratelimit import rate_limit_middleware
from entrypoints.http.request import StrictRequest, add_request_id_header
from entrypoints.http.security_headers import HashedSwaggerRenderPlugin, security_headers_hook
from entrypoints.observability.middleware import instrument
from entrypoints.settings import Settings, load_settings
from entrypoints.ws.analytics import analytics_counters
from entrypoints.ws.handler import live_events

API_VERSION = "1.0.0"

DESCRIPTION = """\
Trellis is a project-board backend: projects and their tasks with owner/visibility rules and
derived progress, local accounts with bearer tokens.

**Envelopes.** Success: `{"status": "success", "data": …, "meta": {…}}`. Errors:
`{"status": "error", "error": {"code", "message", "details", "request_id"}}` with stable codes.
Every response carries `X-Request-ID`.

**Authentication.** `POST /api/v1/auth/login` returns an access token; send it as
`Authorization: Bearer <token>` (the *Authorize* button above).

**Paging.** List routes take `page` (≥ 1), `size` (1–100) and `sort` (a whitelisted field,
`-` for descending); paging is in `meta` and in RFC 8288 `Link` headers.

**Concurrency.** Single resources send a strong `ETag`; `If-None-Match` answers 304 and
`If-Match` on PUT/PATCH/DELETE answers 412 when the resource changed.
"""


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Trellis API",
        version=API_VERSION,
        description=DESCRIPTION,
        path="/docs",
        render_plugins=[HashedSwaggerRenderPlugin(path="/")],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(
                    type="http", scheme="bearer", bearer_format="JWT", description="An access token from /auth/login"
                ),
                "BasicAuth": SecurityScheme(
                    type="http",
                    scheme="basic",
                    description="An account's e-mail and password (for scripts); 5 failures per account "
                    "per 15 minutes answer 429",
                ),
            }
        ),
        tags=[
            Tag(name="auth", description="Accounts and tokens"),
            Tag(name="projects", description="Projects and the tasks under them"),
            Tag(name="tasks", description="Single tasks"),
            Tag(name="posts", description="Status posts, following their project's visibility"),
            Tag(name="collections", description="Your ordered collections of posts (owner and admins only)"),
            Tag(name="users", description="Account administration (admins only)"),
            Tag(name="jobs", description="Background job status; dead letters and retry (admins)"),
            Tag(name="files", description="File uploads, downloads and resumable uploads"),
            Tag(name="health", description="Liveness and readiness"),
        ],
        use_handler_docstrings=False,
        create_examples=False,
    )


@get(
    "/openapi.json",
    summary="The OpenAPI document",
    description="This API's OpenAPI 3.1 document (the same one Swagger UI at /docs reads).",
    include_in_schema=False,
    media_type="application/vnd.oai.openapi+json",
    sync_to_thread=False,
)
def openapi_document(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = request.app
    encoded = app.state.get("openapi_json")
    if encoded is None:  # built once, on first use, then served from memory
        files = app.state.container.files
        document = complete_document(app.openapi_schema.to_schema(), files.limits if files is not None else None)
        encoded = app.state.openapi_json = msgspec.json.encode(document)
    return Response(encoded, media_type="application/vnd.oai.openapi+json")


EXPORT_PATH = "/api/v1/projects/{project_id}/export"

# The upload and import routes read their multipart body as a stream (never whole into memory),
# so Litestar cannot infer it; the document declares it so clients and Swagger UI can send it.
_ID_FIELD = {"type": "string", "minLength": 1}
MULTIPART_BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/files": {
        "required": ["file"],
        "properties": {
            "task_id": {**_ID_FIELD, "description": "Attach to this task (send before `file`)."},
            "post_id": {**_ID_FIELD, "description": "Attach to this post (send before `file`)."},
            "file": {"type": "string", "format": "binary", "description": "The file; its type is sniffed."},
        },
    },
    "/api/v1/projects/{project_id}/import": {
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "CSV, JSON or XML of tasks."},
        },
    },
}


def _request_models() -> list[type[msgspec.Struct]]:
    found: list[type[msgspec.Struct]] = []
    pending: list[type[msgspec.Struct]] = [msgspec.Struct]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__struct_config__.forbid_unknown_fields:
            found.append(cls)
    return found


def _zero_bounds(annotation: msgspec.inspect.Type) -> dict[str, int]:
    """A field's bounds of 0, which Litestar's generator drops (it tests them for truth)."""
    if isinstance(annotation, msgspec.inspect.Metadata):
        annotation = annotation.type
    types = annotation.types if isinstance(annotation, msgspec.inspect.UnionType) else (annotation,)
    bounds: dict[str, int] = {}
    for member in types:
        if isinstance(member, msgspec.inspect.Metadata):  # Annotated[..., Meta(description=...)]
            member = member.type
        if isinstance(member, msgspec.inspect.IntType | msgspec.inspect.FloatType):
            for attr, keyword in (
                ("ge", "minimum"),
                ("le", "maximum"),
                ("gt", "exclusiveMinimum"),
                ("lt", "exclusiveMaximum"),
            ):
                if getattr(member, attr) == 0:
                    bounds[keyword] = 0
    return bounds


def complete_document(document: dict[str, Any], limits: FileLimits | None = None) -> dict[str, Any]:
    """Say in the OpenAPI document what the server does and Litestar's generator leaves out.

    Request models forbid unknown fields (``additionalProperties: false``); a bound of 0 (task
    ``progress`` ≥ 0) is kept; the export route answers CSV, JSON or XML, not only JSON; the upload
    and import routes take a ``multipart/form-data`` body with a ``file`` field; and the rules of
    ``openapi_rules`` (site, upload and part bounds, file types), with the configured file ``limits``.
    """
    schemas = document.get("components", {}).get("schemas", {})
    for model in _request_models():
        schema = schemas.get(model.__name__)
        if schema is None:
            continue
        schema["additionalProperties"] = False
        info = msgspec.inspect.type_info(model)
        assert isinstance(info, msgspec.inspect.StructType)
        for field in info.fields:
            prop = schema.get("properties", {}).get(field.encode_name)
            if prop is not None:
                for keyword, value in _zero_bounds(field.type).items():
                    prop.setdefault(keyword, value)
    for path, form in MULTIPART_BODIES.items():
        operation = document.get("paths", {}).get(path, {}).get("post")
        if operation is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"multipart/form-data": {"schema": {"type": "object", **form}}},
            }
    export = document.get("paths", {}).get(EXPORT_PATH, {}).get("get", {}).get("responses", {}).get("200")
    if export is not None:
        export["content"] = {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/xml": {"schema": {"type": "string"}},
        }
    return openapi_rules.apply(document, limits)


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> Litestar:
    """The application. With ``container`` the caller owns it; otherwise it is built at start-up."""
    settings = settings or (container.settings if container is not None else load_settings())

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if container is not None:
            app.state.container = container
            yield
            return
        built = await bootstrap(settings)
        app.state.container = built
        try:
            yield
        finally:
            await built.close()

    api = Router(
        path="/api/v1",
        route_handlers=[AuthController, OidcController, ProjectController, TaskController, UserController],
    )
    api.register(FileController)  # issue 8: /api/v1/files
    api.register(live_events)  # issue 6: websocket /api/v1/ws
    for content in (PostController, CollectionController):  # issue 9: posts and collections
        api.register(content)
    for issue9 in (WeatherController, ProjectWeatherController, AnalysisController):  # weather, text analysis
        api.register(issue9)
    api.register(analytics_counters)  # issue 6: GET /api/v1/analytics
    for issue10 in (JobController, TransferController):  # job status, import/export
        api.register(issue10)
    cors = cors_config(settings)
    app = Litestar(
        route_handlers=[api, HealthController, openapi_document],
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        before_send=[
            add_request_id_header,
            security_headers_hook(hsts_always=settings.production),
            complete_allow_header,
        ],
        middleware=[rate_limit_middleware(), idempotency_middleware()],  # limits first: a 429 stores nothing
        request_class=StrictRequest,
        request_max_body_size=settings.request_max_body_bytes,
        openapi_config=openapi_config(),
        cors_config=cors,
        logging_config=None,
        debug=False,
    )
    return instrument(app, settings)  # access log, /metrics, spans


_PARAM_TYPE = re.compile(r":[^}]*}")


async def complete_allow_header(message: Message, scope: Scope) -> None:
    """``before_send`` hook: the automatic OPTIONS answer's ``Allow`` names every method of its path.

    Litestar writes that answer's ``Allow`` from the handlers its path had when the answer was
    made; handlers the same path gets from a later registration were missing (``OPTIONS
    /api/v1/projects/{id}`` said ``DELETE, OPTIONS`` although GET, PUT and PATCH exist).
    """
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    headers = list(message.get("headers", ()))
    kept = [(name, value) for name, value in headers if name.lower() != b"allow"]
    template = scope.get("path_template", "")
    methods = next(  # the map's paths name parameter types (``{id:str}``), the template does not
        (m for path, m in scope["app"].route_handler_method_map.items() if _PARAM_TYPE.sub("}", path) == template),
        None,
    )
    if len(kept) == len(headers) or not methods:  # no Allow (a CORS preflight) or an unknown path
        return
    kept.append((b"allow", ", ".join(sorted({*methods, "OPTIONS"})).encode("latin-1")))
    message["headers"] = kept


CORS_METHODS: list[Any] = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key", "X-Request-ID"]
CORS_EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "Link",
    "X-Request-ID",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
]


def cors_config(settings: Settings) -> CORSConfig | None:
    """CORS for the trusted origins only (CORS_ALLOWED_ORIGINS); none configured, no CORS headers.

    Methods and request headers are listed, not wildcarded, so a preflight for anything else
    fails. Credentials (cookies) are not allowed cross-origin: the API authenticates by header.
    """
    if not settings.cors_allowed_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_allowed_origins),
        allow_methods=CORS_METHODS,
        allow_headers=CORS_REQUEST_HEADERS,
        expose_headers=CORS_EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=600,
    )


def app_from_environment() -> Litestar:
    """Factory for ASGI servers (``uvicorn --factory entrypoints.http.app:app_from_environment``)."""
    return create_app(load_settings())
