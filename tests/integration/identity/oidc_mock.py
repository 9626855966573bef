"""A real OpenID provider for tests: PyPI ``oidc-provider-mock`` run as its own process.

It serves discovery, JWKS (RS256), the authorization endpoint (a form: POST ``sub`` to
sign in as that subject) and the token endpoint (authlib; codes are single-use and bound to
the client id). Users' claims are set with ``PUT /users/{sub}``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.services import LOOPBACK, RunningServer, free_port, start_server, unavailable

#: lifetime of the mock's ID tokens (its --token-max-age)
TOKEN_MAX_AGE = 60


@dataclass
class MockProvider:
    server: RunningServer

    @property
    def issuer(self) -> str:
        return f"http://{LOOPBACK}:{self.server.port}"

    def set_user(self, sub: str, **claims: Any) -> None:
        response = httpx.put(f"{self.issuer}/users/{sub}", json=claims, timeout=5)
        response.raise_for_status()

    def stop(self) -> None:
        self.server.kill()


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://{LOOPBACK}:{port}/.well-known/openid-configuration", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def mock_provider() -> Iterator[MockProvider]:
    if importlib.util.find_spec("oidc_provider_mock") is None:  # it runs in its own process, never imported here
        unavailable("oidc-provider-mock is not installed (uv sync --dev)")
    port = free_port()
    argv = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port), "--token-max-age", str(TOKEN_MAX_AGE)]
    try:
        server = start_server("oidc-mock", argv, port, ready=lambda: _ready(port), timeout=30)
    except RuntimeError as exc:
        unavailable(f"oidc-provider-mock did not start: {exc}")
    try:
        yield MockProvider(server)
    finally:
        server.stop()
