"""``/api/v1/users``: account administration, admins only (others get 403)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from application.users import AccessChange
from domain.identity import Principal, Role
from domain.paging import USER_SORT_FIELDS, Sort, page_request
from entrypoints.http.conditional import PRIVATE_NO_CACHE, etag, expected_version
from entrypoints.http.controllers.paging import SORT_DESCRIPTION, PageQuery, SizeQuery, list_response, sort_pattern
from entrypoints.http.dependencies import AUTHENTICATED, BEARER_SECURITY, container_of
from entrypoints.http.envelope import Envelope, ListEnvelope, ok
from entrypoints.http.errors import error_responses
from entrypoints.http.schemas import Strict, UserOut

UserSort = Annotated[
    str | None,
    QueryParameter(
        description=SORT_DESCRIPTION.format(fields=", ".join(sorted(USER_SORT_FIELDS))),
        max_length=40,
        schema_extra=sort_pattern(USER_SORT_FIELDS),
    ),
]
DEFAULT_SORT = Sort("created_at")


class UserAccessPatchIn(Strict):
    """PATCH: only the fields present change."""

    roles: Annotated[list[Role], msgspec.Meta(min_length=1, max_length=3)] | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


def user_response(user: Any) -> Response[Envelope[UserOut]]:
    return Response(ok(UserOut.of(user)), headers={"ETag": etag(user.version), "Cache-Control": PRIVATE_NO_CACHE})


class UserController(Controller):
    path = "/users"
    tags = ["users"]  # noqa: RUF012 - Litestar reads class attributes
    dependencies = AUTHENTICATED
    security = BEARER_SECURITY

    @get(
        "/",
        summary="List users (admin)",
        description="Every account, paged, sorted by a whitelisted field. Admins only: members and guests get 403.",
        responses=error_responses(401, 403, 422),
    )
    async def list_users(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        page: PageQuery = 1,
        size: SizeQuery = 20,
        sort: UserSort = None,
    ) -> Response[ListEnvelope[UserOut]]:
        paging = page_request(page, size, sort, USER_SORT_FIELDS, DEFAULT_SORT)
        found = await container_of(request).users.list(principal, paging)
        return list_response(request, found, [UserOut.of(u) for u in found.items])

    @get(
        "/{user_id:str}",
        summary="Read a user (admin)",
        description="One account. Admins only (a user may read their own account here too; see also /auth/me).",
        responses=error_responses(401, 403, 404),
    )
    async def get_user(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], user_id: FromPath[str]
    ) -> Response[Envelope[UserOut]]:
        return user_response(await container_of(request).users.get(principal, user_id))

    @patch(
        "/{user_id:str}",
        summary="Change a user's roles or active flag (admin)",
        description="Sets `roles` (at least one of admin, member, guest) and/or `active`. Deactivating a user "
        "makes their access and refresh tokens fail at once. An admin cannot remove their own admin role or "
        "deactivate themselves (409 `self_lockout`). Honours `If-Match`. Publishes `user.updated`.",
        responses=error_responses(400, 401, 403, 404, 409, 412, 422),
    )
    async def update_user(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        user_id: FromPath[str],
        data: JSONBody[UserAccessPatchIn],
    ) -> Response[Envelope[UserOut]]:
        change = AccessChange(
            roles=None if isinstance(data.roles, msgspec.UnsetType) else frozenset(data.roles),
            active=None if isinstance(data.active, msgspec.UnsetType) else data.active,
        )
        user = await container_of(request).users.update(principal, user_id, change, expected_version(request))
        return user_response(user)
