"""Browser-facing protections: security headers on every response, and the docs page's CSP.

API responses are JSON and never meant to be rendered, so their policy forbids everything
(``default-src 'none'; frame-ancestors 'none'``). Swagger UI at ``/docs`` loads its bundle,
preset and stylesheet from jsDelivr and starts itself with an inline script that embeds the
OpenAPI document; its policy allows exactly those: the CDN origin for scripts and styles, and
the inline scripts by their SHA-256 (computed from the page as rendered, so a changed schema
never needs a hand-edited hash). No ``'unsafe-inline'``/``'unsafe-eval'`` for scripts.

The headers are added by a ``before_send`` hook, so they are on every response: errors, 404s
for unknown routes, and CORS preflights included. A header a route set itself is kept.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from litestar import Request
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.types import Message, Scope

DOCS_PATH = "/docs"
SWAGGER_CDN = "https://cdn.jsdelivr.net"
HSTS = "max-age=63072000; includeSubDomains"

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

_STATE_KEY = "trellis_csp_script_hashes"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(?P<body>.*?)</script>", re.DOTALL | re.IGNORECASE)


def script_hashes(html: bytes) -> list[str]:
    """CSP source expressions (``'sha256-…'``) for every inline ``<script>`` in ``html``."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group("body")).digest()).decode() + "'"
        for m in _INLINE_SCRIPT.finditer(html)
    ]


_OAUTH2_REDIRECT_HASHES = script_hashes(SwaggerRenderPlugin.render_oauth2_redirect())


def docs_csp(hashes: list[str]) -> str:
    scripts = " ".join([SWAGGER_CDN, *hashes])
    return (
        "default-src 'none'; "
        f"script-src {scripts}; "
        f"style-src {SWAGGER_CDN} 'unsafe-inline'; "  # Swagger UI sets inline styles on its own elements
        f"img-src 'self' data: {SWAGGER_CDN}; "
        f"font-src {SWAGGER_CDN} data:; "
        "connect-src 'self'; "  # "Try it out" calls this API
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


class HashedSwaggerRenderPlugin(SwaggerRenderPlugin):
    """Swagger UI whose inline scripts are allowed by hash in the page's CSP."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        page = super().render(request, openapi_schema)
        request.scope.setdefault("state", {})[_STATE_KEY] = script_hashes(page)
        return page


def _is_docs(path: str) -> bool:
    return path == DOCS_PATH or path.startswith(DOCS_PATH + "/")


def security_headers_hook(hsts_always: bool) -> Any:
    """A ``before_send`` hook; ``hsts_always`` (production) sends HSTS even behind plain HTTP."""

    def encoded(csp: str, hsts: bool) -> tuple[tuple[bytes, bytes], ...]:
        wanted = [
            (b"content-security-policy", csp),
            (b"x-content-type-options", "nosniff"),
            (b"x-frame-options", "DENY"),
            (b"referrer-policy", "no-referrer"),
            (b"cross-origin-opener-policy", "same-origin"),
        ]
        if hsts:
            wanted.append((b"strict-transport-security", HSTS))
        return tuple((name, value.encode("latin-1")) for name, value in wanted)

    # the API's headers never change: encoded once, not per response
    api_headers = {hsts: encoded(API_CSP, hsts) for hsts in (False, True)}

    async def add_security_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = list(message.get("headers", ()))
        present = {name.lower() for name, _ in headers}
        path = scope.get("path", "")
        hsts = hsts_always or scope.get("scheme") in ("https", "wss")
        if _is_docs(path):
            hashes = scope.get("state", {}).get(_STATE_KEY) or _OAUTH2_REDIRECT_HASHES
            wanted = encoded(docs_csp(hashes), hsts)
        else:
            wanted = api_headers[hsts]
        headers.extend(header for header in wanted if header[0] not in present)
        message["headers"] = headers

    return add_security_headers
