"""Derived project progress: the mean of live tasks' progress, half-up to one decimal."""

from __future__ import annotations

import pytest

from domain.board import progress_from_totals, project_progress


def test_no_tasks_means_zero() -> None:
    assert project_progress([]) == 0.0
    assert progress_from_totals(0, 0) == 0.0


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0], 0.0),
        ([100], 100.0),
        ([50, 100], 75.0),
        ([0, 0, 100], 33.3),  # 33.333…
        ([0, 100, 100], 66.7),  # 66.666…
        ([0, 0, 0, 1], 0.3),  # 0.25 rounds half up
        ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 0.1),  # 0.05 rounds half up
        ([1, 2], 1.5),
        ([33, 34, 34], 33.7),
        ([100, 100, 100], 100.0),
    ],
)
def test_mean_rounded_half_up_to_one_decimal(values: list[int], expected: float) -> None:
    assert project_progress(values) == expected
    assert progress_from_totals(len(values), sum(values)) == expected


def test_half_up_where_bankers_rounding_would_go_down() -> None:
    # 0.25 -> round() would give 0.2 (half to even); the rule is half up.
    assert round(0.25, 1) == 0.2
    assert progress_from_totals(4, 1) == 0.3


def test_accepts_any_iterable() -> None:
    assert project_progress(iter([10, 20])) == 15.0
