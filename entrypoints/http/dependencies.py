"""Dependencies shared by the controllers: the container's services and the caller."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.di import Provide

from domain.errors import InvalidToken, Unauthenticated
from domain.identity import Principal

if TYPE_CHECKING:
    from entrypoints.bootstrap import Container


def container_of(request: Request[Any, Any, Any]) -> Container:
    container: Container = request.app.state.container
    return container


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The authenticated caller, or 401. ``Authorization: Bearer <access token>``."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated("Authentication is required: send Authorization: Bearer <access token>.")
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        raise InvalidToken("Unsupported authorization; send Authorization: Bearer <access token>.")
    return await container_of(request).accounts.authenticate(credentials)


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthenticated("Authentication is required: send Authorization: Bearer <access token>.")
    return credentials.strip()


AUTHENTICATED = {"principal": Provide(provide_principal)}
BEARER_SECURITY: list[dict[str, list[str]]] = [{"BearerToken": []}]
