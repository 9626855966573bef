"""Paging and sorting requests as the domain understands them (whatever the transport)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

from domain.errors import FieldProblem, ValidationFailed

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Sort:
    field: str
    descending: bool = False

    def render(self) -> str:
        return f"-{self.field}" if self.descending else self.field


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    size: int = DEFAULT_PAGE_SIZE
    sort: Sort = Sort("created_at")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.size) if self.size else 0


def page_request(page: int, size: int, sort: str | None, allowed: frozenset[str], default: Sort) -> PageRequest:
    """Validate paging input, naming each bad field (``query.page``, ``query.size``, ``query.sort``)."""
    problems: list[FieldProblem] = []
    if page < 1:
        problems.append(FieldProblem("query.page", "must be at least 1"))
    if not 1 <= size <= MAX_PAGE_SIZE:
        problems.append(FieldProblem("query.size", f"must be between 1 and {MAX_PAGE_SIZE}"))
    chosen = default
    if sort is not None:
        descending = sort.startswith("-")
        name = sort[1:] if descending else sort
        if name not in allowed:
            problems.append(
                FieldProblem("query.sort", f"must be one of {', '.join(sorted(allowed))} (prefix - for descending)")
            )
        else:
            chosen = Sort(name, descending)
    if problems:
        raise ValidationFailed(problems)
    return PageRequest(page=page, size=size, sort=chosen)


PROJECT_SORT_FIELDS = frozenset({"created_at", "updated_at", "title", "finish_date", "progress"})
TASK_SORT_FIELDS = frozenset({"created_at", "updated_at", "title", "finish_date", "progress", "tag"})
USER_SORT_FIELDS = frozenset({"created_at", "email", "display_name"})
