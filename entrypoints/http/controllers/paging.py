"""Query parameters shared by list routes, and the list response with its Link header."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, TypeVar

from litestar import Request, Response
from litestar.params import QueryParameter

from domain.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from entrypoints.http.conditional import PRIVATE_NO_CACHE
from entrypoints.http.envelope import ListEnvelope, link_header, page_meta

T = TypeVar("T")

PageQuery = Annotated[int, QueryParameter(ge=1, le=1_000_000, description="Page number, from 1.")]
SizeQuery = Annotated[
    int,
    QueryParameter(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, 1–{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})."),
]


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
