"""``/api/v1/auth``: sign-up, password login, refresh, logout, the current user, token check."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.params import JSONBody

from domain.identity import Principal
from entrypoints.http.conditional import PRIVATE_NO_CACHE
from entrypoints.http.dependencies import (
    AUTHENTICATED,
    BEARER_SECURITY,
    bearer_token,
    container_of,
    optional_bearer_token,
)
from entrypoints.http.envelope import Envelope, ok
from entrypoints.http.errors import error_responses
from entrypoints.http.schemas import LoginIn, RefreshIn, SignupIn, TokenInfoOut, TokenOut, UserOut

NO_STORE = CacheControlHeader(no_store=True)


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]  # noqa: RUF012 - Litestar reads class attributes

    @post(
        "/signup",
        summary="Create a local account",
        description="Creates a member account with an e-mail and a password. The password must be at least "
        "12 characters, not a common password and not contain the e-mail's local part. "
        "Answers 201 with the user (never the password hash) and a `Location` header.",
        responses=error_responses(400, 409, 422, 429),
    )
    async def signup(self, request: Request[Any, Any, Any], data: JSONBody[SignupIn]) -> Response[Envelope[UserOut]]:
        user = await container_of(request).accounts.signup(data.email, data.password, data.display_name)
        return Response(ok(UserOut.of(user)), status_code=201, headers={"Location": "/api/v1/auth/me"})

    @post(
        "/login",
        summary="Log in with e-mail and password",
        description="Returns a bearer access token (JWT, 15 minutes) and a refresh token. A wrong password and "
        "an unknown e-mail get the same 401.",
        responses=error_responses(400, 401, 422, 429),
        status_code=200,
        cache_control=NO_STORE,
    )
    async def login(self, request: Request[Any, Any, Any], data: JSONBody[LoginIn]) -> Envelope[TokenOut]:
        pair = await container_of(request).accounts.login(data.email, data.password)
        return ok(TokenOut(**_pair(pair)))

    @post(
        "/refresh",
        summary="Exchange a refresh token for a new token pair",
        description="Refresh tokens are single-use: each call returns a new pair and retires the old refresh "
        "token. Presenting a retired refresh token again revokes its whole family (every token descended "
        "from the same login).",
        responses=error_responses(400, 401, 422, 429),
        status_code=200,
        cache_control=NO_STORE,
    )
    async def refresh(self, request: Request[Any, Any, Any], data: JSONBody[RefreshIn]) -> Envelope[TokenOut]:
        pair = await container_of(request).accounts.refresh(data.refresh_token)
        return ok(TokenOut(**_pair(pair)))

    @post(
        "/logout",
        summary="Revoke a refresh token family (and the current access token)",
        description="Revokes the refresh token and every token rotated from the same login. When the request "
        "also carries `Authorization: Bearer <access token>`, that access token is revoked by its `jti` "
        "and gets 401 from then on (an expired or unknown bearer token is ignored). Answers `data: null`.",
        responses=error_responses(400, 401, 422, 503),
        status_code=200,
    )
    async def logout(self, request: Request[Any, Any, Any], data: JSONBody[RefreshIn]) -> Envelope[None]:
        await container_of(request).accounts.logout(data.refresh_token, optional_bearer_token(request))
        return ok(None)

    @post(
        "/logout-all",
        summary="Log out everywhere",
        description="Every access and refresh token of the caller issued before this request stops working "
        "(401 on the next request, refresh refused); a login afterwards works as usual. Answers `data: null`.",
        dependencies=AUTHENTICATED,
        security=BEARER_SECURITY,
        responses=error_responses(401, 503),
        status_code=200,
    )
    async def logout_all(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal]
    ) -> Envelope[None]:
        await container_of(request).accounts.logout_everywhere(principal, optional_bearer_token(request))
        return ok(None)

    @get(
        "/me",
        summary="The current user",
        description="The account behind the bearer token.",
        dependencies=AUTHENTICATED,
        security=BEARER_SECURITY,
        responses=error_responses(401),
    )
    async def me(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal]
    ) -> Response[Envelope[UserOut]]:
        user = await container_of(request).accounts.me(principal)
        return Response(ok(UserOut.of(user)), headers={"Cache-Control": PRIVATE_NO_CACHE})

    @get(
        "/verify",
        summary="Check an access token",
        description="Verifies the bearer token (signature, issuer, audience, expiry, and that the account is "
        "active) and reports its claims. Invalid tokens get 401.",
        security=BEARER_SECURITY,
        responses=error_responses(401),
    )
    async def verify(self, request: Request[Any, Any, Any]) -> Response[Envelope[TokenInfoOut]]:
        check = await container_of(request).accounts.verify(bearer_token(request))
        info = TokenInfoOut(
            active=True,
            subject=check.claims.subject,
            roles=sorted(check.user.roles),
            expires_at=check.claims.expires_at,
            issued_at=check.claims.issued_at,
            user=UserOut.of(check.user),
        )
        return Response(ok(info), headers={"Cache-Control": "no-store"})


def _pair(pair: Any) -> dict[str, Any]:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "bearer",
        "expires_in": pair.expires_in,
    }
