"""Keyset pages over in-memory records (``list_keyset`` of the memory repositories).

The order is the contract's (``domain.paging.follows``): the sort field, None first ascending
and last descending, ties by id ascending in both directions. A page is the ``size`` smallest
matches after the anchor, picked with a bounded heap (``heapq.nsmallest``): one pass over the
matches and no full sort, so the cost of a page does not depend on how deep the anchor is —
but it is a pass over every match (the memory tables have no index; MongoDB's adapter has).
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Callable, Iterable
from typing import Any

from adapters.memory.store import R
from domain.paging import KeysetPage, KeysetRequest, SortValue, follows, keyset_of


class _Descending:
    """Wraps a (non-None) value so that ``<`` means "comes first" in a descending sort."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Descending) -> bool:
        result: bool = self.value > other.value
        return result

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.value == other.value

    __hash__ = None  # type: ignore[assignment]


def order_key(field: str, descending: bool) -> Callable[[Any], tuple[Any, ...]]:
    """A sort key giving the contract's list order for ``field`` in either direction."""
    if descending:

        def key(record: Any) -> tuple[Any, ...]:
            value: SortValue = getattr(record, field)
            return (True, 0, record.id) if value is None else (False, _Descending(value), record.id)

        return key

    def ascending(record: Any) -> tuple[Any, ...]:
        value: SortValue = getattr(record, field)
        return (False, 0, record.id) if value is None else (True, value, record.id)

    return ascending


def select_keyset(records: Iterable[R], page: KeysetRequest, sortable: frozenset[str]) -> KeysetPage[R]:
    sort = page.sort
    if sort.field not in sortable:
        raise ValueError(f"cannot sort by {sort.field!r}; one of {sorted(sortable)}")
    anchor = page.after
    if anchor is not None:
        field = sort.field
        records = (r for r in records if follows(getattr(r, field), r.id, anchor, sort))
    size = max(page.size, 0)
    picked = heapq.nsmallest(size + 1, records, key=order_key(sort.field, sort.descending))
    items = [copy.deepcopy(record) for record in picked[:size]]
    more = len(picked) > size and bool(items)
    return KeysetPage(items=items, size=page.size, next=keyset_of(items[-1], sort) if more else None)
