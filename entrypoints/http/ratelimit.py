"""Rate limits (DESIGN §9): per principal, or per client IP when anonymous.

Implementation choice: moving windows behind the ``RateLimiter`` port
(``adapters/ratelimit/limiter.py``; rates in the ``limits`` notation), not Litestar's
``RateLimitMiddleware``. Litestar's middleware keeps a list of timestamps per client, reads it,
checks it and writes it back under a lock that only exists inside one process: two replicas
sharing Redis can both admit the last request of a window. It also has one limit per middleware
instance and sends no ``Retry-After``. Our limiter counts in one atomic server-side step (one
Lua script, one round trip on Redis; the same moving-window algorithm in memory), so the limit
holds across replicas, and the same limiter serves the login brute-force rule in the
application layer. This module only decides *who* and *which rate* and writes the headers.

- Who: the user id of a valid bearer token (``AccountService.access_subject``: the signature is
  checked, and memoised so authentication does not check it again), else the client address —
  from ``TRUSTED_PROXY_HEADER`` when set (its right-most address: the one the trusted proxy
  appended; a client can forge everything to its left), else the socket peer. An invalid token
  counts against the address, so rotating junk tokens does not escape the limit.
- Which rate: ``RATE_LIMIT_AUTH`` (10/minute) on ``POST`` login, signup and refresh, in a bucket
  of its own; ``RATE_LIMIT_DEFAULT`` (120/minute) on every other ``/api/`` route.
- Every limited response carries ``RateLimit-Limit``, ``RateLimit-Remaining`` and
  ``RateLimit-Reset`` (seconds until a slot frees up); a refused one is the ``rate_limited``
  error envelope (429) with ``Retry-After``.
- Fail-open: when the store is down the request passes without the headers, and a warning is
  logged (and counted in ``trellis_rate_limit_bypass_total``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import DependencyUnavailable
from domain.ports import RateDecision
from entrypoints.observability.metrics import RATE_LIMIT_BYPASS, RATE_LIMITED

if TYPE_CHECKING:
    from entrypoints.bootstrap import Container

log = structlog.get_logger("trellis.ratelimit")


AUTH_PATHS = frozenset({"/api/v1/auth/login", "/api/v1/auth/signup", "/api/v1/auth/refresh"})
LIMITED_PREFIX = "/api/"


def client_address(scope: Scope, trusted_proxy_header: str | None) -> str:
    if trusted_proxy_header:
        wanted = trusted_proxy_header.lower().encode("latin-1")
        for name, value in scope.get("headers", ()):
            if name == wanted:
                candidates = [part.strip() for part in value.decode("latin-1").split(",") if part.strip()]
                if candidates:
                    return candidates[-1]
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def bearer_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
            return None
    return None


_LIMIT, _REMAINING, _RESET = b"ratelimit-limit", b"ratelimit-remaining", b"ratelimit-reset"


def rate_limit_headers(decision: RateDecision) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset_after),
    }


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != ScopeType.HTTP or not path.startswith(LIMITED_PREFIX) or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        container: Container = scope["litestar_app"].state.container
        limiter, settings = container.rate_limiter, container.settings
        if limiter is None:
            await self.app(scope, receive, send)
            return
        is_auth = scope.get("method") == "POST" and path.rstrip("/") in AUTH_PATHS
        rate = settings.rate_limit_auth if is_auth else settings.rate_limit_default
        token = bearer_of(scope)
        subject = container.accounts.access_subject(token) if token is not None else None
        who = f"user:{subject}" if subject else f"ip:{client_address(scope, settings.trusted_proxy_header)}"
        try:
            decision = await limiter.hit(rate, "auth" if is_auth else "api", who)
        except DependencyUnavailable as error:
            RATE_LIMIT_BYPASS.inc()
            log.warning("rate_limit_store_unavailable", dependency=error.dependency, action="fail_open", path=path)
            await self.app(scope, receive, send)
            return
        if not decision.allowed:
            RATE_LIMITED.inc()
            raise TooManyRequestsException(
                "Too many requests; retry after the number of seconds in Retry-After.",
                headers={**rate_limit_headers(decision), "Retry-After": str(max(1, decision.reset_after))},
            )
        extra = (
            (_LIMIT, str(decision.limit).encode()),
            (_REMAINING, str(decision.remaining).encode()),
            (_RESET, str(decision.reset_after).encode()),
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":  # nothing else sets these names: append them
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def rate_limit_middleware() -> DefineMiddleware:
    return DefineMiddleware(RateLimitMiddleware)
