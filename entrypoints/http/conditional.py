"""HTTP conditional requests: strong ETags from versions, If-None-Match and If-Match."""

from __future__ import annotations

from typing import Any

from litestar import Request

from domain.errors import PreconditionFailed

PRIVATE_NO_CACHE = "private, no-cache"


def etag(version: int) -> str:
    return f'"v{version}"'


def not_modified(request: Request[Any, Any, Any], version: int) -> bool:
    """True when ``If-None-Match`` names the current version (or ``*``)."""
    header = next((v.decode("latin-1") for k, v in request.scope.get("headers", ()) if k == b"if-none-match"), None)
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag(version) in tags


def expected_version(request: Request[Any, Any, Any]) -> int | None:
    """The version ``If-Match`` names; None when absent or ``*``; 412 when it names no version."""
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    for tag in header.split(","):
        value = tag.strip()
        if value.startswith('"v') and value.endswith('"') and value[2:-1].isdigit():
            return int(value[2:-1])
    raise PreconditionFailed('If-Match must name an ETag this API sent, such as "v3".')
