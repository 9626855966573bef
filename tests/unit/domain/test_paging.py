"""Paging requests: each bad field is named (query.page, query.size, query.sort)."""

from __future__ import annotations

import pytest

from domain.errors import ValidationFailed
from domain.paging import (
    MAX_PAGE_SIZE,
    PROJECT_SORT_FIELDS,
    Page,
    PageRequest,
    Sort,
    page_request,
)

DEFAULT = Sort("created_at")


def test_defaults_and_offset() -> None:
    request = page_request(3, 10, None, PROJECT_SORT_FIELDS, DEFAULT)

    assert request == PageRequest(page=3, size=10, sort=DEFAULT)
    assert request.offset == 20


@pytest.mark.parametrize(
    ("sort", "expected"),
    [("title", Sort("title")), ("-progress", Sort("progress", descending=True))],
)
def test_sort_ascending_and_descending(sort: str, expected: Sort) -> None:
    assert page_request(1, 20, sort, PROJECT_SORT_FIELDS, DEFAULT).sort == expected


def test_sort_renders_back_to_its_query_form() -> None:
    assert Sort("title").render() == "title"
    assert Sort("title", descending=True).render() == "-title"


@pytest.mark.parametrize(
    ("page", "size", "sort", "fields"),
    [
        (0, 20, None, ["query.page"]),
        (-1, 20, None, ["query.page"]),
        (1, 0, None, ["query.size"]),
        (1, MAX_PAGE_SIZE + 1, None, ["query.size"]),
        (1, 20, "password", ["query.sort"]),
        (1, 20, "-password", ["query.sort"]),
        (1, 20, "", ["query.sort"]),
        (1, 20, "-", ["query.sort"]),
        (0, 0, "nope", ["query.page", "query.size", "query.sort"]),
    ],
)
def test_each_bad_field_is_named(page: int, size: int, sort: str | None, fields: list[str]) -> None:
    with pytest.raises(ValidationFailed) as raised:
        page_request(page, size, sort, PROJECT_SORT_FIELDS, DEFAULT)

    assert [p.field for p in raised.value.problems] == fields


def test_size_bounds_are_inclusive() -> None:
    assert page_request(1, 1, None, PROJECT_SORT_FIELDS, DEFAULT).size == 1
    assert page_request(1, MAX_PAGE_SIZE, None, PROJECT_SORT_FIELDS, DEFAULT).size == MAX_PAGE_SIZE


def test_the_sort_message_lists_the_allowed_fields() -> None:
    with pytest.raises(ValidationFailed) as raised:
        page_request(1, 20, "password", frozenset({"b", "a"}), DEFAULT)

    assert raised.value.problems[0].message == "must be one of a, b (prefix - for descending)"


@pytest.mark.parametrize(("total", "size", "pages"), [(0, 20, 0), (1, 20, 1), (20, 20, 1), (21, 20, 2), (5, 0, 0)])
def test_page_counts(total: int, size: int, pages: int) -> None:
    assert Page(items=[], total=total, page=1, size=size).pages == pages
