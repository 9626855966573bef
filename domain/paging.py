"""Paging and sorting requests as the domain understands them (whatever the transport)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

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


# --- keyset ("cursor") paging -------------------------------------------------------------------

SortValue = str | int | float | datetime | date | None
"""What a whitelisted sort field can hold (dates, times, text, numbers, or nothing)."""


@dataclass(frozen=True, slots=True)
class Keyset:
    """A position in a sorted list: just after the item whose sort value is ``value`` and id is ``id``.

    The position does not need the item to still exist: the next page starts strictly after
    ``(value, id)`` in the list order, so an item deleted or inserted elsewhere never shifts it.
    """

    value: SortValue
    id: str


@dataclass(frozen=True, slots=True)
class KeysetRequest:
    """The first ``size`` matches after ``after`` (from the start when None), in ``sort`` order."""

    size: int = DEFAULT_PAGE_SIZE
    sort: Sort = Sort("created_at")
    after: Keyset | None = None


@dataclass(frozen=True, slots=True)
class KeysetPage(Generic[T]):
    """A keyset page: no total (counting every match is what keyset paging avoids).

    ``next`` is where the following page starts, or None when this page is the last one."""

    items: list[T]
    size: int
    next: Keyset | None = None


def keyset_of(item: Any, sort: Sort) -> Keyset:
    """The position just after ``item`` in a list sorted by ``sort``."""
    return Keyset(value=getattr(item, sort.field), id=item.id)


def follows(value: SortValue, item_id: str, anchor: Keyset, sort: Sort) -> bool:
    """True when an item with this sort value and id comes after ``anchor`` in the list order.

    The order of every list: by the sort field (None before every value ascending, after every
    value descending), ties by id ascending whichever the direction.
    """
    if value == anchor.value:
        return item_id > anchor.id
    if value is None:
        return sort.descending  # None is last descending, first ascending
    if anchor.value is None:
        return not sort.descending
    bigger: bool = value > anchor.value  # type: ignore[operator]
    return bigger != sort.descending


def sort_value_to_text(value: SortValue) -> tuple[str, str]:
    """A sort value as (type tag, text), for cursors and cache keys; ``sort_value_from_text`` reverses it."""
    if value is None:
        return "n", ""
    if isinstance(value, bool):
        raise TypeError("booleans are not sort values")
    if isinstance(value, datetime):
        return "t", value.isoformat()
    if isinstance(value, date):
        return "d", value.isoformat()
    if isinstance(value, int):
        return "i", str(value)
    if isinstance(value, float):
        return "f", repr(value)
    return "s", value


def sort_value_from_text(tag: str, text: str) -> SortValue:
    """The value ``sort_value_to_text`` encoded; ``ValueError`` for anything it cannot have made."""
    if tag == "n" and text == "":
        return None
    if tag == "s":
        return text
    if tag == "i":
        return int(text)
    if tag == "f":
        number = float(text)
        if not math.isfinite(number):
            raise ValueError("not a finite number")
        return number
    if tag == "d":
        return date.fromisoformat(text)
    if tag == "t":
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError("a timestamp needs its offset")
        return moment
    raise ValueError(f"unknown sort value type {tag!r}")


def keyset_request(size: int, sort: str | None, allowed: frozenset[str], default: Sort) -> tuple[int, Sort]:
    """Validate the size and sort of a keyset page (same rules and fields as ``page_request``)."""
    checked = page_request(1, size, sort, allowed, default)
    return checked.size, checked.sort


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
