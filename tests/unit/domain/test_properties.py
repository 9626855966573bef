"""Hypothesis: the invariants of the board hold for any input, not just the examples."""

from __future__ import annotations

import dataclasses
import random
from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.board import (
    Project,
    TaskChanges,
    Visibility,
    apply_task_changes,
    can_change_project,
    can_view_project,
    ensure_changeable,
    ensure_visible,
    progress_from_totals,
    project_progress,
)
from domain.errors import NotFound, TaskCompleted
from domain.identity import Principal, Role
from tests.unit.domain.builders import T0, T1, project, task

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)

progress_values = st.lists(st.integers(min_value=0, max_value=100), max_size=60)


def _half_up_tenths(values: list[int]) -> Fraction:
    """The exact mean, rounded half up to tenths, computed independently with Fractions."""
    mean = Fraction(sum(values), len(values))
    tenths = mean * 10
    whole = tenths.numerator // tenths.denominator
    if tenths - whole >= Fraction(1, 2):
        whole += 1
    return Fraction(whole, 10)


@PROPERTY_SETTINGS
@given(progress_values)
def test_progress_is_within_0_and_100_and_is_the_rounded_mean(values: list[int]) -> None:
    result = project_progress(values)

    assert 0.0 <= result <= 100.0
    if not values:
        assert result == 0.0
    else:
        expected = _half_up_tenths(values)
        assert result == float(expected)  # the double nearest to the exact half-up tenth
        assert abs(expected - Fraction(sum(values), len(values))) <= Fraction(1, 20)


@PROPERTY_SETTINGS
@given(progress_values, st.randoms(use_true_random=False))
def test_progress_does_not_depend_on_task_order(values: list[int], rnd: random.Random) -> None:
    shuffled = list(values)
    rnd.shuffle(shuffled)

    assert project_progress(shuffled) == project_progress(values) == progress_from_totals(len(values), sum(values))


optional_text = st.none() | st.text(max_size=260)
task_changes = st.builds(
    TaskChanges,
    title=optional_text,
    description=st.none() | st.text(max_size=20) | st.just("x" * 10_001),
    tag=optional_text,
    clear_tag=st.booleans(),
    progress=st.none() | st.integers(min_value=-5, max_value=105),
    finish_date=st.none() | st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    clear_finish_date=st.booleans(),
)


@PROPERTY_SETTINGS
@given(
    task_changes,
    st.none() | st.text(min_size=1, max_size=10),
    st.none() | st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
)
def test_a_completed_task_never_changes(changes: TaskChanges, tag: str | None, finish: date | None) -> None:
    completed = task(progress=100, tag=tag, finish_date=finish, description="done")
    before = dataclasses.replace(completed)

    with pytest.raises(TaskCompleted):
        apply_task_changes(completed, changes, T1)

    assert completed == before


ids = st.sampled_from(["alice", "bob", "carol"])
roles = st.frozensets(st.sampled_from(list(Role)))
principals = st.builds(Principal, user_id=ids, roles=roles)
projects = st.builds(
    project,
    owner_id=ids,
    visibility=st.sampled_from(list(Visibility)),
    deleted_at=st.none() | st.just(T0),
)


@PROPERTY_SETTINGS
@given(principals, st.builds(project, owner_id=ids, visibility=st.just(Visibility.PERSONAL)))
def test_a_personal_project_is_never_visible_to_another_non_admin(principal: Principal, target: Project) -> None:
    if principal.is_admin or principal.user_id == target.owner_id:
        assert can_view_project(principal, target) is True
        return
    assert can_view_project(principal, target) is False
    with pytest.raises(NotFound):
        ensure_visible(principal, target)
    with pytest.raises(NotFound):
        ensure_changeable(principal, target)


@PROPERTY_SETTINGS
@given(st.none() | principals, projects)
def test_whoever_may_change_a_project_may_also_see_it(principal: Principal | None, target: Project) -> None:
    if can_change_project(principal, target):
        assert can_view_project(principal, target)
    if target.deleted_at is not None or principal is None:
        assert not can_view_project(principal, target)
