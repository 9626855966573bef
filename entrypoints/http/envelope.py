"""The success and error envelopes of DESIGN §4, and paging meta + RFC 8288 Link headers."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlencode

import msgspec

from domain.paging import Page

T = TypeVar("T")


class PageMeta(msgspec.Struct, kw_only=True):
    page: int
    size: int
    total: int
    pages: int


class Envelope(msgspec.Struct, Generic[T], kw_only=True):
    """``{"status": "success", "data": …, "meta": {…}}`` — ``data`` is always present."""

    data: T
    status: Literal["success"] = "success"
    meta: dict[str, Any] = msgspec.field(default_factory=dict)


class ListEnvelope(msgspec.Struct, Generic[T], kw_only=True):
    data: list[T]
    meta: PageMeta
    status: Literal["success"] = "success"


class CursorMeta(msgspec.Struct, kw_only=True):
    """Keyset paging: no total; ``next_cursor`` is null on the last page."""

    size: int
    next_cursor: str | None


class CursorListEnvelope(msgspec.Struct, Generic[T], kw_only=True):
    data: list[T]
    meta: CursorMeta
    status: Literal["success"] = "success"


class ErrorDetail(msgspec.Struct, kw_only=True):
    field: str
    message: str


class ErrorBody(msgspec.Struct, kw_only=True):
    code: str
    message: str
    request_id: str
    details: list[ErrorDetail] = msgspec.field(default_factory=list)


class ErrorEnvelope(msgspec.Struct, kw_only=True):
    """``{"status": "error", "error": {"code", "message", "details", "request_id"}}``."""

    error: ErrorBody
    status: Literal["error"] = "error"


def ok(data: T, **meta: Any) -> Envelope[T]:
    return Envelope(data=data, meta=meta)


def page_meta(page: Page[Any]) -> PageMeta:
    return PageMeta(page=page.page, size=page.size, total=page.total, pages=page.pages)


def link_header(path: str, params: dict[str, str], page: Page[Any]) -> str:
    """RFC 8288 links (first, prev, next, last) that keep the caller's filters and sort."""

    def url(number: int) -> str:
        return f"{path}?{urlencode({**params, 'page': str(number), 'size': str(page.size)})}"

    last = max(page.pages, 1)
    links = [f'<{url(1)}>; rel="first"']
    if page.page > 1:
        links.append(f'<{url(min(page.page - 1, last))}>; rel="prev"')
    if page.page < page.pages:
        links.append(f'<{url(page.page + 1)}>; rel="next"')
    links.append(f'<{url(last)}>; rel="last"')
    return ", ".join(links)


def cursor_link_header(path: str, params: dict[str, str], size: int, next_cursor: str | None) -> str:
    """RFC 8288 links of a keyset page: ``first`` (``cursor=``) and, unless it is the last, ``next``."""

    def url(cursor: str) -> str:
        return f"{path}?{urlencode({**params, 'cursor': cursor, 'size': str(size)})}"

    links = [f'<{url("")}>; rel="first"']
    if next_cursor is not None:
        links.append(f'<{url(next_cursor)}>; rel="next"')
    return ", ".join(links)
