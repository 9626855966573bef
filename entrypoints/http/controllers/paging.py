"""Query parameters shared by list routes, and the list response with its Link header."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from litestar import Request, Response
from litestar.params import QueryParameter

from domain.errors import FieldProblem, ValidationFailed
from domain.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, KeysetPage, KeysetRequest, Page, Sort, keyset_request
from entrypoints.http.conditional import PRIVATE_NO_CACHE
from entrypoints.http.cursors import MAX_CURSOR_LENGTH, CursorCodec, fingerprint
from entrypoints.http.dependencies import container_of
from entrypoints.http.envelope import (
    CursorListEnvelope,
    CursorMeta,
    ListEnvelope,
    cursor_link_header,
    link_header,
    page_meta,
)

T = TypeVar("T")

PageQuery = Annotated[int, QueryParameter(ge=1, le=1_000_000, description="Page number, from 1.")]
SizeQuery = Annotated[
    int,
    QueryParameter(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, 1–{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})."),
]


CURSOR_DESCRIPTION = (
    "Keyset paging, instead of `page`: send `cursor=` (empty) for the first page, then the previous page's "
    '`meta.next_cursor` (also in the `Link` header, `rel="next"`); it is null on the last page. Cursor pages '
    "have no `total`, cost the same however deep they are, and never skip or repeat an item when items are added "
    "meanwhile. A cursor is opaque and only valid for the list, filters and `sort` it was made for (else 422 "
    "`invalid_cursor`); `size` may change between pages. Cannot be combined with `page` (422)."
)
CursorQuery = Annotated[str | None, QueryParameter(description=CURSOR_DESCRIPTION, max_length=MAX_CURSOR_LENGTH)]

SORT_DESCRIPTION = "Sort field, one of {fields}; prefix `-` for descending."


def sort_pattern(fields: Iterable[str]) -> dict[str, Any]:
    """OpenAPI ``schema_extra`` naming the accepted ``sort`` values (any other value is a 422)."""
    return {"pattern": f"^-?({'|'.join(sorted(fields))})$"}


def list_response(request: Request[Any, Any, Any], page: Page[Any], items: list[T]) -> Response[ListEnvelope[T]]:
    params = {k: v for k, v in request.query_params.items() if k not in ("page", "size")}
    return Response(
        ListEnvelope(data=items, meta=page_meta(page)),
        headers={"Link": link_header(request.url.path, params, page), "Cache-Control": PRIVATE_NO_CACHE},
    )


@dataclass(frozen=True, slots=True)
class CursorPaging:
    """A validated keyset request, and what its next cursor must be signed for."""

    codec: CursorCodec
    fingerprint: str
    page: KeysetRequest


def cursor_paging(
    request: Request[Any, Any, Any],
    cursor: str,
    size: int,
    sort: str | None,
    allowed: frozenset[str],
    default: Sort,
    route: str,
    *filters: str | None,
) -> CursorPaging:
    """Check ``size``/``sort`` (as for pages), refuse ``page`` beside ``cursor``, verify the cursor
    against this list (``route`` + ``filters``) and sort; the position to start after."""
    if "page" in request.query_params:
        raise ValidationFailed([FieldProblem("query.page", "cannot be combined with cursor; use one or the other")])
    size, order = keyset_request(size, sort, allowed, default)
    codec = container_of(request).cursors
    list_fingerprint = fingerprint(route, *filters)
    after = codec.decode(cursor, order, list_fingerprint)
    return CursorPaging(codec, list_fingerprint, KeysetRequest(size=size, sort=order, after=after))


def cursor_list_response(
    request: Request[Any, Any, Any], paging: CursorPaging, page: KeysetPage[Any], items: list[T]
) -> Response[Any]:
    """A keyset page in ``CursorListEnvelope`` (typed ``Any`` so a route may answer either envelope)."""
    position = page.next
    next_cursor = None if position is None else paging.codec.encode(position, paging.page.sort, paging.fingerprint)
    params = {k: v for k, v in request.query_params.items() if k not in ("page", "size", "cursor")}
    return Response(
        CursorListEnvelope(data=items, meta=CursorMeta(size=page.size, next_cursor=next_cursor)),
        headers={
            "Link": cursor_link_header(request.url.path, params, page.size, next_cursor),
            "Cache-Control": PRIVATE_NO_CACHE,
        },
    )
