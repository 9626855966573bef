"""``/api/v1/auth/oidc/{provider}``: sign in with an OpenID provider (code + PKCE + state + nonce).

The login route redirects the browser to the provider and sets a signed, HttpOnly,
SameSite=Lax state cookie scoped to this path; the callback accepts only a ``state`` that
matches that cookie (the flow's CSRF protection) and answers with our token pair. The
callback authenticates by nothing else: an ``Authorization`` header (Bearer or Basic) is
ignored there.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import Cookie
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from application.oidc import OidcLoginService
from domain.errors import NotFound
from entrypoints.http.dependencies import container_of
from entrypoints.http.envelope import Envelope, ok
from entrypoints.http.errors import error_responses
from entrypoints.http.schemas import TokenOut

STATE_COOKIE = "trellis_oidc"
COOKIE_PATH = "/api/v1/auth/oidc"

CallbackValue = Annotated[str | None, QueryParameter(max_length=4096, description="Set by the identity provider.")]
# ``state`` is a name Litestar reserves for the app state: the query parameter is read under an alias
CallbackState = Annotated[
    str | None, QueryParameter(name="state", max_length=4096, description="The state the login route issued.")
]


def _service(request: Request[Any, Any, Any]) -> OidcLoginService:
    service = container_of(request).oidc
    if service is None:
        raise NotFound("No identity provider is configured under this name.")
    return service


def _secure(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https" or container_of(request).settings.production


class OidcController(Controller):
    path = "/auth/oidc"
    tags = ["auth"]  # noqa: RUF012 - Litestar reads class attributes

    @get(
        "/{provider:str}/login",
        summary="Start signing in with an OpenID provider",
        description="Redirects (302) to the provider's authorization endpoint with PKCE (S256), `state` and "
        "`nonce`, and sets a signed, HttpOnly, SameSite=Lax state cookie that the callback checks. Providers "
        "are configured by `OIDC_<NAME>_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET`, `_REDIRECT_URI`; `{provider}` "
        "is the lower-cased name. 404 for an unknown provider, 503 `identity_provider_unavailable` when its "
        "discovery document cannot be read.",
        status_code=302,
        responses=error_responses(404, 503),
    )
    async def login(self, request: Request[Any, Any, Any], provider: FromPath[str]) -> Redirect:
        start = await _service(request).begin(provider)
        cookie = Cookie(
            key=STATE_COOKIE,
            value=start.cookie_value,
            max_age=start.max_age,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=_secure(request),
        )
        return Redirect(start.redirect_url, status_code=302, cookies=[cookie], headers={"Cache-Control": "no-store"})

    @get(
        "/{provider:str}/callback",
        summary="Finish signing in with an OpenID provider",
        description="The provider redirects the browser here. Checks `state` against the state cookie, redeems "
        "the code with the PKCE verifier, checks the ID token (signature by `kid` from the provider's JWKS, "
        "algorithm, `iss`, `aud`, `exp`, `nonce`) and answers with our token pair. Users are linked by issuer "
        "and subject; a first sign-in joins an existing account only when the provider verified its e-mail, "
        "else creates a member. 401 `oidc_state_invalid` (state/cookie mismatch), 401 `oidc_login_failed` "
        "(refused or replayed code, bad ID token), 409 `email_taken` (unverified e-mail of an existing "
        "account), 503 `identity_provider_unavailable`.",
        responses=error_responses(401, 404, 409, 422, 503),
        cache_control=None,
    )
    async def callback(
        self,
        request: Request[Any, Any, Any],
        provider: FromPath[str],
        code: CallbackValue = None,
        oidc_state: CallbackState = None,
        error: CallbackValue = None,
    ) -> Response[Envelope[TokenOut]]:
        pair = await _service(request).complete(
            provider, code=code, state=oidc_state, error=error, cookie=request.cookies.get(STATE_COOKIE)
        )
        body = TokenOut(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            token_type="bearer",  # noqa: S106 - the OAuth token type, not a secret
            expires_in=pair.expires_in,
        )
        spent = Cookie(key=STATE_COOKIE, value="", max_age=0, path=COOKIE_PATH, httponly=True, samesite="lax")
        return Response(ok(body), headers={"Cache-Control": "no-store"}, cookies=[spent])
