"""Keyset pages over in-memory records (``list_keyset`` of the memory repositories).

The order is the contract's (``domain.paging.follows``): the sort field, None first ascending
and last descending, ties by id ascending in both directions.

``SortedIndex`` is what makes a deep page cheap: the live records of a table in
(partition, sort value, id) order — one per sort field, built on first use, then kept up to
date on every committed write (the table calls it with each change: a ``bisect`` and a list
insert or pop). A page is a bisect to the position and a walk forward, in list order, until
``size + 1`` records pass the filters: page 1,000 costs what page 1 does. The partition
(a task's project) keeps a project's tasks contiguous, so the walk never crosses another
project's; filters without a partition (a viewer's projects, posts) are checked as it walks.

Page/size lists (``list``) slice the same index: the page at ``offset`` is a slice of the
partition's list order (a few bisects), the total a count that sorts nothing; a filter the
partition does not cover (a tag, a viewer) costs one pass that keeps the matches in order.

Inside a transaction that has written to the table, committed order is not what that
transaction sees: ``select_keyset`` then picks the page from a full pass with a bounded heap,
and ``select_page`` sorts that transaction's view.
"""

from __future__ import annotations

import copy
import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from itertools import compress
from typing import Any, Generic

from adapters.memory.store import R, Table
from domain.paging import Keyset, KeysetPage, KeysetRequest, Page, PageRequest, Sort, SortValue, follows, keyset_of


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


def page_of(ordered: Iterable[R], page: KeysetRequest) -> KeysetPage[R]:
    """The first ``size`` of records already in list order after the position (copies)."""
    size = max(page.size, 0)
    picked: list[R] = []
    for record in ordered:
        picked.append(record)
        if len(picked) > size:
            break
    items = [copy.deepcopy(record) for record in picked[:size]]
    more = len(picked) > size and bool(items)
    return KeysetPage(items=items, size=page.size, next=keyset_of(items[-1], page.sort) if more else None)


class _Top:
    """Greater than every id (an upper bound for a run of equal sort values)."""

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return True


_TOP = _Top()


def _slice_in_list_order(
    keys: list[tuple[Any, ...]],
    records: list[R],
    lo: int,
    hi: int,
    part: str,
    descending: bool,
    offset: int,
    size: int,
) -> list[R]:
    """Positions ``offset`` to ``offset + size`` of the list order of ``records[lo:hi]``, which
    are sorted by ``keys`` (one partition: (part, None flag, value, id), ascending).

    Ascending, list order is index order: one slice. Descending, values come highest first
    but each run of equal values keeps its ids ascending, and the Nones come last: each run a
    page touches is found from the end by its bounds (two bisects), never by walking.
    """
    offset, size = max(offset, 0), max(size, 0)
    if not descending:
        return records[lo + offset : min(hi, lo + offset + size)]
    valued = bisect_left(keys, (part, True), lo, hi)  # first non-None value
    picked: list[R] = []
    position = offset
    while len(picked) < size and position < hi - lo:
        if position >= hi - valued:  # past every value: into the Nones (in id order)
            start = lo + position - (hi - valued)
            picked.extend(records[start : min(valued, start + size - len(picked))])
            break
        value = keys[hi - 1 - position][2]
        run_start = bisect_left(keys, (part, True, value), valued, hi)
        run_end = bisect_right(keys, (part, True, value, _TOP), valued, hi)
        first = run_start + position - (hi - run_end)  # the run starts at list position hi - run_end
        taken = records[first : min(run_end, first + size - len(picked))]
        picked.extend(taken)
        position += len(taken)
    return picked


class SortedIndex(Generic[R]):
    """Live records of one table by (partition, None flag, value, id), ascending."""

    def __init__(self, table: Table[R], field: str, partition: Callable[[R], str] | None = None) -> None:
        self._field = field
        self._partition = partition
        rows = [(self._key(r), r) for r in table.committed_rows() if r.deleted_at is None]
        rows.sort(key=lambda row: row[0])
        self._keys: list[tuple[Any, ...]] = [key for key, _ in rows]
        self._records: list[R] = [record for _, record in rows]
        table.watch(self._changed)

    def _key(self, record: R) -> tuple[Any, ...]:
        part = self._partition(record) if self._partition is not None else ""
        value = getattr(record, self._field)
        return (part, False, 0, record.id) if value is None else (part, True, value, record.id)

    def _changed(self, old: R | None, new: R | None) -> None:
        if old is not None and old.deleted_at is None:
            key = self._key(old)
            at = bisect_left(self._keys, key)
            if at < len(self._keys) and self._keys[at] == key:
                del self._keys[at]
                del self._records[at]
        if new is not None and new.deleted_at is None:
            key = self._key(new)
            at = bisect_left(self._keys, key)
            self._keys.insert(at, key)
            self._records.insert(at, new)

    def walk(self, sort: Sort, after: Keyset | None, part: str = "") -> Iterator[R]:
        """The partition's records in list order, from just after ``after`` (or the start)."""
        keys, records = self._keys, self._records
        lo, hi = bisect_left(keys, (part,)), bisect_left(keys, (part, 2))
        valued = bisect_left(keys, (part, True), lo, hi)  # first non-None value
        spans: Iterable[tuple[int, int]]
        if not sort.descending:
            start = lo if after is None else bisect_right(keys, self._anchor_key(part, after), lo, hi)
            spans = [(start, hi)]
        elif after is None:
            spans = self._descending_runs(valued, hi, lo)
        elif after.value is None:
            spans = [(bisect_right(keys, self._anchor_key(part, after), lo, valued), valued)]
        else:
            run_start = bisect_left(keys, (part, True, after.value), valued, hi)
            run_end = bisect_right(keys, (part, True, after.value, _TOP), valued, hi)
            rest = bisect_right(keys, self._anchor_key(part, after), run_start, run_end)
            spans = [(rest, run_end), *self._descending_runs(valued, run_start, lo)]
        for start, end in spans:
            for at in range(start, end):
                yield records[at]

    def page_at(
        self, sort: Sort, offset: int, size: int, part: str = "", matches: Callable[[R], bool] | None = None
    ) -> tuple[list[R], int]:
        """``size`` records of the partition (those ``matches`` keeps) in list order from position
        ``offset``, and how many there are in all: a slice of the index, no sort.

        Unfiltered, the count is two bisects and the page a few more. Filtered, one pass keeps
        the matches in index order (still sorted), and the page is sliced from those.
        """
        keys, records = self._keys, self._records
        lo, hi = bisect_left(keys, (part,)), bisect_left(keys, (part, 2))
        if matches is not None:
            kept = [matches(record) for record in records[lo:hi]]
            keys, records = list(compress(keys[lo:hi], kept)), list(compress(records[lo:hi], kept))
            lo, hi = 0, len(records)
        return _slice_in_list_order(keys, records, lo, hi, part, sort.descending, offset, size), hi - lo

    def _descending_runs(self, valued: int, end: int, lo: int) -> Iterator[tuple[int, int]]:
        """Runs of equal values below ``end``, highest first (each in id order), then the Nones."""
        keys = self._keys
        while end > valued:
            part, _, value, _ = keys[end - 1]
            start = bisect_left(keys, (part, True, value), valued, end)
            yield start, end
            end = start
        yield lo, valued

    @staticmethod
    def _anchor_key(part: str, after: Keyset) -> tuple[Any, ...]:
        return (part, False, 0, after.id) if after.value is None else (part, True, after.value, after.id)


class KeysetIndexes(Generic[R]):
    """One ``SortedIndex`` per sort field of a table, built on first use."""

    def __init__(self, table: Table[R], sortable: frozenset[str], partition: Callable[[R], str] | None = None) -> None:
        self._table = table
        self._sortable = sortable
        self._partition = partition
        self._indexes: dict[str, SortedIndex[R]] = {}

    def page(
        self, page: KeysetRequest, matches: Callable[[R], bool], records: Callable[[], Iterable[R]], part: str = ""
    ) -> KeysetPage[R]:
        """``records()`` filtered by ``matches``, from ``page.after`` on; by the index unless this
        context's transaction has written to the table (then a pass over ``records()``)."""
        field = page.sort.field
        if field not in self._sortable:
            raise ValueError(f"cannot sort by {field!r}; one of {sorted(self._sortable)}")
        if self._table.has_staged_writes():
            return select_keyset((r for r in records() if matches(r)), page, self._sortable)
        index = self._indexes.get(field)
        if index is None:
            index = self._indexes[field] = SortedIndex(self._table, field, self._partition)
        return page_of((r for r in index.walk(page.sort, page.after, part) if matches(r)), page)

    def list_page(
        self,
        page: PageRequest,
        matches: Callable[[R], bool] | None,
        records: Callable[[], Iterable[R]],
        part: str = "",
        copy_out: Callable[[R], R] = copy.copy,
    ) -> Page[R]:
        """A page/size page of ``records()`` filtered by ``matches`` (None: the whole partition),
        each handed out through ``copy_out``.

        By the index unless this context's transaction has written to the table (then a sort
        of ``records()``, as ``select_page``): the page is a slice at ``page.offset`` of the
        index's list order — a bisect when nothing is filtered, a walk of the first
        ``offset + size`` matches otherwise — and the total a count that sorts nothing.
        """
        field = page.sort.field
        if field not in self._sortable:
            raise ValueError(f"cannot sort by {field!r}; one of {sorted(self._sortable)}")
        if self._table.has_staged_writes():
            return select_page((r for r in records() if matches is None or matches(r)), page, self._sortable, copy_out)
        index = self._indexes.get(field)
        if index is None:
            index = self._indexes[field] = SortedIndex(self._table, field, self._partition)
        picked, total = index.page_at(page.sort, page.offset, page.size, part, matches)
        return Page(items=[copy_out(r) for r in picked], total=total, page=page.page, size=page.size)


def select_page(
    records: Iterable[R], page: PageRequest, sortable: frozenset[str], copy_out: Callable[[R], R] = copy.copy
) -> Page[R]:
    """Sort (None first ascending, last descending; ties by id ascending), then page."""
    field = page.sort.field
    if field not in sortable:
        raise ValueError(f"cannot sort by {field!r}; one of {sorted(sortable)}")
    ordered = sorted(records, key=order_key(field, page.sort.descending))
    start = max(page.offset, 0)
    items = [copy_out(record) for record in ordered[start : start + max(page.size, 0)]]
    return Page(items=items, total=len(ordered), page=page.page, size=page.size)
