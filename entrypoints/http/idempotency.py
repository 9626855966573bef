"""``Idempotency-Key`` on the create routes: POST /projects, POST /projects/{id}/tasks, POST /auth/signup.

A client that may retry a create sends ``Idempotency-Key: <1–255 visible ASCII characters>``.
Per (principal, key) — the user id of the bearer token, or ``anonymous`` for sign-up — the
``IdempotencyStore`` port (Redis, or memory when embedded) keeps the first successful response
for 24 hours:

- the same key with the same request (method, path and body, hashed) returns the stored status,
  body and ``Location``/``ETag`` headers with ``Idempotent-Replayed: true``; nothing runs again;
- the same key with a different request is 422 ``idempotency_key_reused``;
- the same key while the first request is still running is 409 ``idempotency_in_flight``.

Only 2xx responses are stored: a refused request created nothing, so the claim is released and
the client may retry with the same key. Anonymous sign-ups share one scope, but the fingerprint
includes the body (with the password), so only the same request can be replayed. If the store is
down the request is refused with 503 rather than run without the duplicate protection it asked for.
Without the header nothing changes.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import Conflict, FieldProblem, ValidationFailed
from domain.ports import IdempotencyState, IdempotentResponse
from entrypoints.http.ratelimit import bearer_of

if TYPE_CHECKING:
    from entrypoints.bootstrap import Container

HEADER = b"idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
ROUTES = re.compile(r"^/api/v1/(projects|projects/[^/]+/tasks|auth/signup)/?$")
_SANE_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_KEPT_HEADERS = frozenset({"content-type", "location", "etag", "cache-control"})


class IdempotencyInFlight(Conflict):
    code = "idempotency_in_flight"
    default_message = "A request with this Idempotency-Key is still being processed; retry shortly."


class IdempotencyKeyReused(ValidationFailed):
    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            [FieldProblem("header.Idempotency-Key", "was already used for a different request")],
            "This Idempotency-Key was already used for a different request; use a new key.",
        )


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, HEADER) if scope["type"] == ScopeType.HTTP and scope.get("method") == "POST" else None
        if key is None or not ROUTES.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        if not _SANE_KEY.match(key):
            problem = FieldProblem("header.Idempotency-Key", "must be 1 to 255 visible ASCII characters")
            raise ValidationFailed([problem])
        container: Container = scope["litestar_app"].state.container
        store = container.idempotency
        if store is None:
            await self.app(scope, receive, send)
            return
        if scope["path"].rstrip("/").endswith("/auth/signup"):
            principal = "anonymous"
        else:
            token = bearer_of(scope)
            subject = container.accounts.access_subject(token) if token is not None else None
            if subject is None:  # the route answers 401; nothing to remember
                await self.app(scope, receive, send)
                return
            principal = f"user:{subject}"

        body, more = await _read_body(receive, container.settings.request_max_body_bytes)
        if more:  # over the size limit: let the route refuse it (413)
            await self.app(scope, _replay(body, receive), send)
            return
        fingerprint = hashlib.sha256(b"\n".join([b"POST", scope["path"].encode(), body])).hexdigest()
        scope_key = f"{principal}:{hashlib.sha256(key.encode()).hexdigest()}"
        state, stored = await store.begin(scope_key, fingerprint)  # DependencyUnavailable -> 503
        if state is IdempotencyState.MISMATCH:
            raise IdempotencyKeyReused()
        if state is IdempotencyState.IN_FLIGHT:
            raise IdempotencyInFlight()
        if state is IdempotencyState.COMPLETED and stored is not None:
            await _send_stored(stored, send)
            return

        status = 0
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.extend(
                    (n.decode("latin-1").lower(), v.decode("latin-1"))
                    for n, v in message.get("headers", ())
                    if n.decode("latin-1").lower() in _KEPT_HEADERS
                )
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        completed = False
        try:
            await self.app(scope, _replay(body, receive), capture)
            if 200 <= status < 300:
                response = IdempotentResponse(fingerprint, status, tuple(headers), b"".join(chunks))
                await store.complete(scope_key, response)
                completed = True
        finally:
            if not completed:
                await store.release(scope_key)


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The whole request body, or what was read once it passed ``limit`` (then ``True``)."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts), False
        chunk = message.get("body", b"")
        parts.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(parts), False
        if size > limit:
            return b"".join(parts), True


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_stored(stored: IdempotentResponse, send: Send) -> None:
    headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in stored.headers]
    headers.append((REPLAYED_HEADER.lower().encode(), b"true"))
    headers.append((b"content-length", str(len(stored.body)).encode()))
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body, "more_body": False})


def idempotency_middleware() -> DefineMiddleware:
    return DefineMiddleware(IdempotencyMiddleware)
