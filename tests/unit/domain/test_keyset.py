"""Keyset positions: ``follows`` is the list order, and sort values survive their text form."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.paging import Keyset, Sort, SortValue, follows, sort_value_from_text, sort_value_to_text

IDS = st.text(alphabet="abc", min_size=1, max_size=3)


def order(a: tuple[SortValue, str], b: tuple[SortValue, str], descending: bool) -> int:
    """The contract in words: None first ascending and last descending; ties by id ascending."""
    (va, ia), (vb, ib) = a, b
    if va != vb:
        if va is None:
            by_value = -1
        elif vb is None:
            by_value = 1
        else:
            by_value = -1 if va < vb else 1  # type: ignore[operator]
        return -by_value if descending else by_value
    return (ia > ib) - (ia < ib)


@given(
    value=st.none() | st.integers(0, 3),
    item_id=IDS,
    anchor_value=st.none() | st.integers(0, 3),
    anchor_id=IDS,
    descending=st.booleans(),
)
def test_follows_is_strictly_after_in_the_list_order(
    value: int | None, item_id: str, anchor_value: int | None, anchor_id: str, descending: bool
) -> None:
    after = follows(value, item_id, Keyset(anchor_value, anchor_id), Sort("progress", descending))
    assert after == (order((value, item_id), (anchor_value, anchor_id), descending) > 0)


def test_a_sorted_list_splits_cleanly_at_every_position() -> None:
    rows = [(v, i) for v in (None, 1, 2) for i in ("a", "b")]
    for descending in (False, True):
        ordered = sorted(rows, key=functools.cmp_to_key(lambda a, b, d=descending: order(a, b, d)))
        for at, (value, item_id) in enumerate(ordered):
            anchor = Keyset(value, item_id)
            assert [r for r in ordered if follows(r[0], r[1], anchor, Sort("x", descending))] == ordered[at + 1 :]


@given(
    value=st.none()
    | st.text(max_size=20)
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.dates()
    | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))]))
)
def test_sort_values_round_trip_through_text(value: SortValue) -> None:
    kind, text = sort_value_to_text(value)
    back = sort_value_from_text(kind, text)
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("x", "1"),
        ("n", "not empty"),
        ("i", "1.5"),
        ("f", "nan"),
        ("f", "inf"),
        ("d", "2025-13-01"),
        ("t", "2025-01-01T00:00:00"),
    ],
)
def test_text_that_no_sort_value_makes_is_refused(kind: str, text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        sort_value_from_text(kind, text)


def test_booleans_are_not_sort_values() -> None:
    with pytest.raises(TypeError):
        sort_value_to_text(True)
    assert sort_value_to_text(datetime(2025, 1, 1, tzinfo=UTC))[0] == "t"
    assert sort_value_to_text(date(2025, 1, 1))[0] == "d"
