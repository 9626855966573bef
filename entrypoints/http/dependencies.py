"""Dependencies shared by the controllers: the container's services and the caller."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.di import Provide

from domain.errors import InvalidToken, Unauthenticated
from domain.identity import Principal
from entrypoints.observability.middleware import bind_user

if TYPE_CHECKING:
    from entrypoints.bootstrap import Container


def container_of(request: Request[Any, Any, Any]) -> Container:
    container: Container = request.app.state.container
    return container


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The authenticated caller, or 401.

    ``Authorization: Bearer <access token>``, or ``Authorization: Basic`` with an account's
    e-mail and password (for scripts; it goes through the same password check and brute-force
    limit as ``/auth/login``). Only API routes that declare this dependency accept Basic; the
    OIDC callback never does.
    """
    header = _authorization(request.scope)
    if not header:
        raise Unauthenticated("Authentication is required: send Authorization: Bearer <access token>.")
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "basic":
        email, password = _basic_credentials(credentials)
        principal = (await container_of(request).accounts.check_password(email, password)).principal
    elif scheme.lower() == "bearer" and credentials:
        principal = await container_of(request).accounts.authenticate(credentials)
    else:
        raise InvalidToken("Unsupported authorization; send Authorization: Bearer <access token>.")
    bind_user(request.scope, principal.user_id)  # the access log line names the caller
    return principal


def _authorization(scope: Any) -> str | None:
    """The ``Authorization`` header straight from the ASGI scope (no ``Headers`` object built per
    request); header names in an ASGI scope are lower-case bytes."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return None


def _basic_credentials(credentials: str) -> tuple[str, str]:
    """``base64(email:password)`` (RFC 7617, UTF-8) -> (email, password); 401 when malformed."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise Unauthenticated("Malformed Basic credentials: send base64 of email:password.") from None
    email, colon, password = decoded.partition(":")
    if not colon or not email or not password:
        raise Unauthenticated("Malformed Basic credentials: send base64 of email:password.")
    return email, password


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthenticated("Authentication is required: send Authorization: Bearer <access token>.")
    return credentials.strip()


def optional_bearer_token(request: Request[Any, Any, Any]) -> str | None:
    """The bearer token of the request, or None when it carries none (or another scheme)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


AUTHENTICATED = {"principal": Provide(provide_principal)}
BEARER_SECURITY: list[dict[str, list[str]]] = [{"BearerToken": []}, {"BasicAuth": []}]
