"""OpenID Connect identity provider over httpx + python-jose (authorisation code + PKCE).

Discovery (``{issuer}/.well-known/openid-configuration``) and the JWKS are fetched on first
use and cached; an ID token naming an unknown ``kid`` fetches the JWKS once more (key
rotation), at most once per ``jwks_refresh_interval`` so a stream of forged ``kid``s cannot
turn us into a request amplifier. Every check of the ID token is explicit and runs against
the caller's clock: algorithm pinned to asymmetric ones, signature by ``kid``, ``iss``,
``aud``/``azp``, ``exp``/``iat`` with a small leeway, ``nonce``, and ``at_hash`` when present.

Every call to the provider (discovery, JWKS, token) passes a circuit breaker (``domain.breaker``,
shared with weather and text analysis): after ``breaker_threshold`` consecutive failures
(unreachable, timeout, 5xx) sign-ins with this provider fail at once for ``breaker_cooldown``
seconds instead of each waiting out the HTTP timeout; then one trial call is let through.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from jose import jwt
from jose.exceptions import JOSEError

from domain.breaker import CircuitBreaker
from domain.errors import IdentityProviderUnavailable, OidcLoginFailed
from domain.ports import ExternalProfile

#: asymmetric algorithms only: ``none`` and HMAC (``HS*``, a shared-secret confusion) never pass
DEFAULT_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
SCOPES = "openid email profile"


class OidcIdentityProvider:
    def __init__(
        self,
        name: str,
        *,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        redirect_uri: str,
        http: httpx.AsyncClient,
        algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
        leeway_seconds: int = 60,
        jwks_refresh_interval: float = 30.0,
        breaker_threshold: int = 5,
        breaker_cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name
        self._issuer = issuer.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._redirect_uri = redirect_uri
        self._http = http
        self._algorithms = tuple(a for a in algorithms if not a.upper().startswith("HS") and a.lower() != "none")
        self._leeway = leeway_seconds
        self._jwks_refresh_interval = jwks_refresh_interval
        self._discovery: dict[str, Any] | None = None
        self._keys: dict[str, dict[str, Any]] = {}
        self._keys_fetched_at: float | None = None
        self.breaker = CircuitBreaker(breaker_threshold, breaker_cooldown, clock)

    @property
    def name(self) -> str:
        return self._name

    # --- the flow ----------------------------------------------------------------------------

    async def authorization_url(self, *, state: str, nonce: str, code_challenge: str) -> str:
        endpoint = str((await self._metadata())["authorization_endpoint"])
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._client_id,
                "redirect_uri": self._redirect_uri,
                "scope": SCOPES,
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def exchange_code(self, *, code: str, code_verifier: str, nonce: str, now: datetime) -> ExternalProfile:
        metadata = await self._metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self._redirect_uri,
            "code_verifier": code_verifier,
            "client_id": self._client_id,
        }
        auth: httpx.BasicAuth | None = None
        if self._client_secret is not None:
            methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
            if "client_secret_post" in methods:
                form["client_secret"] = self._client_secret
            else:
                auth = httpx.BasicAuth(self._client_id, self._client_secret)
        response = await self._request("POST", str(metadata["token_endpoint"]), data=form, auth=auth)
        if response.status_code >= 500:
            raise IdentityProviderUnavailable()
        if response.status_code != 200:
            error = _json(response).get("error")
            reason = error if isinstance(error, str) and error.replace("_", "").isalpha() else "refused"
            raise OidcLoginFailed(f"The identity provider refused the authorization code ({reason}); start again.")
        body = _json(response)
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise OidcLoginFailed("The identity provider returned no ID token.")
        access_token = body.get("access_token")
        claims = await self.validate_id_token(
            id_token, nonce=nonce, now=now, access_token=access_token if isinstance(access_token, str) else None
        )
        return _profile(self._issuer, claims)

    # --- ID token checks ---------------------------------------------------------------------

    async def validate_id_token(
        self, id_token: str, *, nonce: str, now: datetime, access_token: str | None = None
    ) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
        except JOSEError:
            raise OidcLoginFailed("The ID token is malformed.") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise OidcLoginFailed("The ID token is signed with an algorithm we do not accept.")
        key = await self._key_for(header.get("kid"))
        if key.get("alg") not in (None, alg):
            raise OidcLoginFailed("The ID token's algorithm does not match its key.")
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=[alg],
                audience=self._client_id,
                issuer=self._issuer,
                access_token=access_token,
                options={
                    "verify_exp": False,  # checked below against the caller's clock
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_at_hash": access_token is not None,
                    "require_aud": True,
                    "require_iss": True,
                    "require_sub": True,
                },
            )
        except JOSEError as exc:
            raise OidcLoginFailed(f"The ID token failed a check: {_reason(exc)}.") from None
        self._check_times(claims, now)
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self._client_id:
            raise OidcLoginFailed("The ID token failed a check: azp is not this client.")
        token_nonce = claims.get("nonce")
        if not isinstance(token_nonce, str) or not hmac.compare_digest(token_nonce, nonce):
            raise OidcLoginFailed("The ID token failed a check: the nonce does not match.")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise OidcLoginFailed("The ID token has no subject.")
        return claims

    def _check_times(self, claims: Mapping[str, Any], now: datetime) -> None:
        instant = now.timestamp()
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise OidcLoginFailed("The ID token failed a check: it has no expiry.")
        if instant > exp + self._leeway:
            raise OidcLoginFailed("The ID token failed a check: it has expired.")
        if isinstance(iat, int | float) and not isinstance(iat, bool) and iat > instant + self._leeway:
            raise OidcLoginFailed("The ID token failed a check: it was issued in the future.")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and not isinstance(nbf, bool) and nbf > instant + self._leeway:
            raise OidcLoginFailed("The ID token failed a check: it is not valid yet.")

    # --- discovery and keys ------------------------------------------------------------------

    async def _metadata(self) -> dict[str, Any]:
        if self._discovery is None:
            response = await self._request("GET", f"{self._issuer}/.well-known/openid-configuration")
            document = _json(response) if response.status_code == 200 else {}
            required = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
            if not all(isinstance(document.get(k), str) for k in required):
                raise IdentityProviderUnavailable("The identity provider's discovery document is unusable.")
            if str(document["issuer"]).rstrip("/") != self._issuer:
                raise IdentityProviderUnavailable("The identity provider's discovery names another issuer.")
            self._discovery = document
        return self._discovery

    async def _key_for(self, kid: object) -> dict[str, Any]:
        if self._keys_fetched_at is None:
            await self._fetch_keys()
        if kid is None:
            if len(self._keys) == 1:
                return next(iter(self._keys.values()))
            raise OidcLoginFailed("The ID token names no key.")
        if not isinstance(kid, str):
            raise OidcLoginFailed("The ID token names no key.")
        if kid not in self._keys and self._may_refresh_keys():
            await self._fetch_keys()  # the provider rotated its keys
        key = self._keys.get(kid)
        if key is None:
            raise OidcLoginFailed("The ID token is signed with a key the provider does not publish.")
        return key

    def _may_refresh_keys(self) -> bool:
        fetched = self._keys_fetched_at
        return fetched is None or time.monotonic() - fetched >= self._jwks_refresh_interval

    async def _fetch_keys(self) -> None:
        metadata = await self._metadata()
        response = await self._request("GET", str(metadata["jwks_uri"]))
        document = _json(response) if response.status_code == 200 else {}
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise IdentityProviderUnavailable("The identity provider's key set is unusable.")
        usable = [k for k in keys if isinstance(k, dict) and k.get("use", "sig") == "sig" and k.get("kty") != "oct"]
        self._keys = {str(k.get("kid", "")): k for k in usable}
        self._keys_fetched_at = time.monotonic()

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if not self.breaker.allow():
            raise IdentityProviderUnavailable(
                f"The identity provider is failing; not asking it again for {math.ceil(self.breaker.retry_in())} s."
            )
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.HTTPError:
            self.breaker.failure()
            raise IdentityProviderUnavailable() from None
        if response.status_code >= 500:
            self.breaker.failure()
            raise IdentityProviderUnavailable()
        self.breaker.success()  # an answer, even a refusal (400 invalid_grant), is a working provider
        return response


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _reason(exc: JOSEError) -> str:
    text = str(exc).lower()
    for needle, reason in (
        ("audience", "wrong audience"),
        ("issuer", "wrong issuer"),
        ("signature", "bad signature"),
        ("at_hash", "at_hash does not match the access token"),
        ("subject", "no subject"),
    ):
        if needle in text:
            return reason
    return "invalid token"


def _profile(issuer: str, claims: Mapping[str, Any]) -> ExternalProfile:
    email = claims.get("email")
    verified = claims.get("email_verified")
    name = claims.get("name") or claims.get("preferred_username")
    return ExternalProfile(
        issuer=issuer,
        subject=str(claims["sub"]),
        email=email.strip().lower() if isinstance(email, str) and email.strip() else None,
        email_verified=verified is True or verified == "true",
        name=name.strip() if isinstance(name, str) and name.strip() else None,
    )
